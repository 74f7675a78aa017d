"""Engine layer: model specs, optimizers, and each run's training, evaluation and lr sweep."""
