"""Data layer: raw files fetched and verified, the tensor cache, training subsets, augmentation."""
