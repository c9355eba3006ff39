"""Image metrics against cases with known answers."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from gentoolkit_image.data import load_digits
from gentoolkit_image.metrics import evaluate_images, feature_network
from gentoolkit_image.metrics.coverage import class_coverage
from gentoolkit_image.metrics.features import digits_classifier
from gentoolkit_image.metrics.fid_kid_is import frechet_distance, inception_score, kernel_distance
from gentoolkit_image.metrics.parzen import parzen_log_likelihood
from gentoolkit_image.metrics.precision_recall import precision_recall


def test_fid_zero_with_itself_and_grows_with_shift():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert abs(frechet_distance(x, x)) < 1e-6
    fids = [frechet_distance(x, x + shift) for shift in (0.5, 1.0, 2.0)]
    assert fids == pytest.approx([8 * 0.25, 8 * 1.0, 8 * 4.0], rel=1e-6)  # ||mu shift||² exactly


def test_kid_near_zero_for_same_distribution_positive_otherwise():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same, _ = kernel_distance(a, b, subsets=20, subset_size=200)
    shifted, _ = kernel_distance(a, b + 1.0, subsets=20, subset_size=200)
    assert abs(same) < 0.01 and shifted > 0.5


def test_inception_score_bounds():
    confident = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(confident, splits=5)[0] == pytest.approx(10.0, rel=1e-6)
    assert inception_score(np.full((100, 10), 0.1), splits=5)[0] == pytest.approx(1.0)


def test_parzen_close_to_true_gaussian_log_density():
    rng = np.random.default_rng(0)
    samples, val, test = (rng.normal(size=(n, 2)) for n in (5000, 300, 300))
    result = parzen_log_likelihood(samples, val, test, sigmas=tuple(np.logspace(-1.5, 0.5, 20)))
    true = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(test).mean()
    assert result["parzen_ll"] == pytest.approx(true, abs=0.1)
    assert 0.1 < result["parzen_sigma"] < 1.0


def test_precision_recall_identical_and_disjoint():
    x = np.random.default_rng(0).normal(size=(200, 5))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(x, x + 100)
    assert far == {"precision": 0.0, "recall": 0.0}
    half = precision_recall(x, np.concatenate([x[:100], x[:100] + 100]))
    assert half["precision"] == pytest.approx(0.5) and half["recall"] < 1.0


def test_class_coverage_collapsed_and_balanced():
    collapsed = class_coverage(np.full(100, 3), 10)
    assert collapsed == {"coverage": 0.1, "class_entropy": 0.0, "max_class_share": 1.0}
    balanced = class_coverage(np.arange(100) % 10, 10)
    assert balanced["coverage"] == 1.0 and balanced["class_entropy"] == pytest.approx(1.0)


def test_shipped_digits_classifier_card_and_accuracy():
    model, card = digits_classifier()
    test = load_digits("test")
    accuracy = float((model(test.images)[1].argmax(-1) == test.labels).float().mean())
    assert accuracy == pytest.approx(card["test_accuracy"], abs=1e-4) and accuracy > 0.97


def test_evaluate_images_on_real_and_collapsed_digits():
    torch.set_num_threads(1)
    train, test = load_digits("train"), load_digits("test")
    network = feature_network("auto", "digits")
    real = evaluate_images(train.images[:300], test.images, train.images, network, kid_subsets=10)
    one = train.images[train.labels == 3][:1].expand(300, -1, -1, -1)
    collapsed = evaluate_images(one, test.images, train.images, network, kid_subsets=10)
    assert real["features"] == collapsed["features"] == "digits-cnn"
    assert real["fid"] < 3 * real["fid_real_floor"] + 0.5 < collapsed["fid"]
    assert collapsed["coverage"] == pytest.approx(0.1) and real["coverage"] == 1.0
    assert collapsed["recall"] < 0.05 < 0.5 < real["recall"]
    assert collapsed["kid"] > 10 * abs(real["kid"])
    assert "bits_per_dim" not in real  # no model, no likelihood


class _TinyInception(torch.nn.Module):
    """Stands in for clean-fid's TorchScript Inception: [0, 255] RGB in, features or probabilities out."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 5)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        features = x.mean(dim=(2, 3)) / 255
        return features if return_features else self.fc(features).softmax(-1)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_torchscript_feature_network_from_a_local_file(tmp_path):
    path = tmp_path / "inception.pt"
    torch.jit.script(_TinyInception()).save(str(path))
    network = feature_network(str(path), "digits")
    features, probs = network(torch.full((4, 1, 8, 8), 0.5))
    assert network.name == "torchscript:inception.pt" and network.num_classes == 5
    assert features.shape == (4, 3) and np.allclose(features, 0.5)
    assert probs.shape == (4, 5) and np.allclose(probs.sum(1), 1)
    with pytest.raises(Exception, match="does not exist"):
        feature_network(str(tmp_path / "missing.pt"), "digits")


def test_training_the_feature_network_leaves_the_global_rng_alone():
    from gentoolkit_image.metrics.features import train_classifier

    images, labels = torch.rand(32, 1, 8, 8), torch.arange(32) % 4
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = train_classifier(images, labels, 4, epochs=1, batch_size=16, seed=5)
    assert torch.equal(torch.get_rng_state(), before), "the caller's RNG stream must continue where it was"
    again = train_classifier(images, labels, 4, epochs=1, batch_size=16, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
