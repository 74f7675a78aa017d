"""The data stage: the datasets' raw files fetched and verified, the tensor cache, the
training subsets and the augmentation that every run reads."""
