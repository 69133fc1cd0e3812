"""Generative human motion stylization in latent space.

After GenMoStyle (Guo et al., "Generative Human Motion Stylization in Latent Space", ICLR 2024).
"""
