"""Networks of MotionLCM: VAE, latent denoiser, ControlNet, trajectory encoder."""
from .controlnet import MotionControlNet, zero_module
from .denoiser import LatentDenoiser
from .embeddings import TimestepEmbedding, guidance_embedding, timestep_sinusoid
from .traj_encoder import TrajectoryEncoder
from .vae import MotionVAE, VAEEncoding

__all__ = ["MotionVAE", "VAEEncoding", "LatentDenoiser", "MotionControlNet", "TrajectoryEncoder",
           "TimestepEmbedding", "guidance_embedding", "timestep_sinusoid", "zero_module"]
