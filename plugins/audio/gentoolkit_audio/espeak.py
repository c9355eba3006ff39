"""eSpeak NG through ctypes, from the ``espeakng-loader`` wheel (library and voice data bundled).

``synthesize(text, voice, rate, pitch)`` returns the int16 samples eSpeak renders at its own rate
(``espeak_Initialize`` reports it, 22,050 Hz). Synthesis is synchronous, into a Python callback;
the library keeps global state, so calls are serialised with a lock.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from gentoolkit import GentoolkitError

AUDIO_OUTPUT_SYNCHRONOUS = 2
CHARS_UTF8 = 1
RATE, VOLUME, PITCH, RANGE = 1, 2, 3, 4  # espeak_PARAMETER
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_lock = threading.Lock()
_state: dict = {}


def _library() -> tuple[ctypes.CDLL, int]:
    """The initialised library and its output sample rate (loaded once per process)."""
    if "lib" not in _state:
        try:
            import espeakng_loader
        except ImportError as err:
            raise GentoolkitError("The spoken-digits dataset needs eSpeak NG: pip install espeakng-loader "
                                  "(it bundles the library and its voices).") from err
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise GentoolkitError(f"eSpeak NG failed to start (espeak_Initialize returned {rate}); reinstall "
                                  "espeakng-loader.")
        chunks: list[np.ndarray] = []

        def collect(wav, count, events):  # called by espeak_Synth with each block of samples
            if count > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            return 0

        _state.update(lib=lib, rate=rate, chunks=chunks, callback=_CALLBACK(collect))
        lib.espeak_SetSynthCallback(_state["callback"])
    return _state["lib"], _state["rate"]


def sample_rate() -> int:
    """eSpeak's output sample rate in Hz."""
    return _library()[1]


def reset_random(seed: int) -> None:
    """Seed eSpeak's noise (its own generator and the C library's ``rand``)."""
    lib, _ = _library()
    lib.espeak_ng_SetRandSeed(int(seed))
    ctypes.CDLL(None).srand(int(seed) & 0xFFFFFFFF)


def synthesize(text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50) -> np.ndarray:
    """``text`` spoken by ``voice`` (e.g. ``en-us+f3``) at ``rate`` words per minute and ``pitch``
    (0-100): int16 samples at :func:`sample_rate`."""
    lib, _ = _library()
    with _lock:
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise GentoolkitError(f"eSpeak NG has no voice {voice!r}; use a language such as en-us, with an "
                                  "optional variant (en-us+f3).")
        lib.espeak_SetParameter(RATE, int(rate), 0)
        lib.espeak_SetParameter(PITCH, int(pitch), 0)
        chunks = _state["chunks"]
        chunks.clear()
        data = text.encode() + b"\0"
        if lib.espeak_Synth(data, len(data), 0, 1, 0, CHARS_UTF8, None, None) != 0:
            raise GentoolkitError(f"eSpeak NG could not speak {text!r} with voice {voice!r}.")
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        chunks.clear()
    return samples


def render(spec: list[tuple[str, str, int, int]], seed: int = 0) -> tuple[int, list[np.ndarray]]:
    """(sample rate, clips) of each (text, voice, rate, pitch), in order. eSpeak keeps state between
    utterances, so run this in a fresh process for the same samples every time."""
    reset_random(seed)
    return sample_rate(), [synthesize(text, voice, rate, pitch) for text, voice, rate, pitch in spec]


def render_in_fresh_process(spec: list[tuple[str, str, int, int]], seed: int = 0) -> tuple[int, list[np.ndarray]]:
    """``render`` in a new interpreter (``python -m gentoolkit_audio.espeak``): eSpeak's state starts
    fresh, and unlike multiprocessing's spawn the caller's script is not run again (so a script
    without an ``if __name__ == "__main__":`` guard works)."""
    with tempfile.TemporaryDirectory() as folder:
        request, answer = Path(folder) / "spec.json", Path(folder) / "clips.npz"
        request.write_text(json.dumps({"spec": spec, "seed": seed}))
        done = subprocess.run([sys.executable, "-m", "gentoolkit_audio.espeak", str(request), str(answer)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise GentoolkitError(f"eSpeak NG failed while rendering speech:\n{done.stderr.strip()[-2000:]}")
        with np.load(answer, allow_pickle=False) as data:
            rate, lengths, samples = int(data["rate"]), data["lengths"], data["samples"]
    return rate, np.split(samples, np.cumsum(lengths)[:-1])


if __name__ == "__main__":  # the fresh process of render_in_fresh_process: spec.json -> clips.npz
    job = json.loads(Path(sys.argv[1]).read_text())
    rate, clips = render([tuple(item) for item in job["spec"]], job["seed"])
    np.savez(sys.argv[2], rate=rate, lengths=np.array([len(c) for c in clips]),
             samples=np.concatenate(clips) if clips else np.zeros(0, np.int16))
