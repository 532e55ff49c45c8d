"""Frozen face recognisers: attribute labels for training renders, identity and emotion networks in torch."""
