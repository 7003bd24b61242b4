"""rl_auxgrad: gradient-gated auxiliary losses, from toy problems to Atari teacher distillation."""

__version__ = "0.1.0"
