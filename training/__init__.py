"""Offline Latent-to-Latent training: recogniser labels, regressor, mapper, encoder, evaluation."""
