"""Networks and the learner's loss functions (GAE, PPO, A2C, teacher KL)."""
