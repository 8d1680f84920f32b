"""Generative models (notebook 08): autoencoders, the VAE, RBMs, DBNs and DBMs, GANs and DCGAN.

The GAN training loop (``train_gan``, ``GANHistory``) is a method on top of the engine: :mod:`course_lib.methods`.
"""

from .autoencoder import AutoEncoder, ConvAutoEncoder, DenoisingAutoEncoder, corrupt
from .dbm import DBM, conv_dbm_conditional, conv_dbm_score
from .gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    dcgan_init_,
    discriminator_loss,
    generator_loss,
)
from .rbm import DBN, RBM, binary_states, train_rbm
from .vae import VAE, gaussian_kl, reparameterize

__all__ = [
    "DBM",
    "DBN",
    "RBM",
    "VAE",
    "AutoEncoder",
    "ConvAutoEncoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DenoisingAutoEncoder",
    "MLPDiscriminator",
    "MLPGenerator",
    "binary_states",
    "conv_dbm_conditional",
    "conv_dbm_score",
    "corrupt",
    "dcgan_init_",
    "discriminator_loss",
    "gaussian_kl",
    "generator_loss",
    "reparameterize",
    "train_rbm",
]
