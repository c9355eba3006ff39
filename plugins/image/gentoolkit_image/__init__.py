"""gentoolkit's image plugin: generative image models, datasets and evaluators."""
