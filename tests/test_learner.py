"""The learner on CartPole: one update per gate, the ungated value gradient, distillation."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rl_auxgrad.agents import build as build_module
from rl_auxgrad.agents import learner as learner_module
from rl_auxgrad.agents.build import build_agent
from rl_auxgrad.agents.learner import Batch, Learner, take_rows
from rl_auxgrad.agents.losses import teacher_kl
from rl_auxgrad.agents.networks import ActorCritic, make_torso
from rl_auxgrad.config import load_config
from rl_auxgrad.envs import make_vector_env
from rl_auxgrad.gating import gated_backward
from rl_auxgrad.teachers import load_native, save_teacher

BASE = ["env.id=CartPole-v1", "env.num_envs=2", "agent.num_steps=32", "total_steps=10000",
        "gate.name=cosine", "teacher.lam_schedule=constant"]
"""A gate at a constant λ (not the default schedule, stop): these tests are about the update."""


def fixed_teacher(seed: int = 123) -> ActorCritic:
    torch.manual_seed(seed)
    teacher = ActorCritic(make_torso("mlp", (4,)), num_actions=2)
    for head in teacher.policy_heads:
        torch.nn.init.normal_(head.weight, std=1.0)  # a confident, arbitrary policy
    return teacher


def teacher_fn(teacher: ActorCritic):
    @torch.no_grad()
    def logits(obs: torch.Tensor, games: torch.Tensor) -> torch.Tensor:
        return teacher(obs, games).logits
    return logits


def one_update(overrides: list[str], teacher=None) -> tuple[Learner, dict[str, float]]:
    config = load_config(None, [*BASE, *overrides])
    torch.manual_seed(config.seed)
    env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed)
    learner = Learner(config, env.spec, torch.device("cpu"), teacher)
    rollout, _, _ = learner.collect(env, env.reset())
    return learner, learner.learn(rollout)


@pytest.mark.parametrize("gate", ["single", "multitask", "cosine", "cosine_unweighted",
                                  "projection", "orthogonal", "pcgrad", "attittud", "kl_only"])
@pytest.mark.parametrize("reference", ["policy", "full"])
def test_every_gate_runs_and_reports_finite_stats(gate, reference):
    learner, stats = one_update([f"gate.name={gate}", f"gate.reference={reference}",
                                 "gate.attittud.k=3", "gate.attittud.num_examples=8"],
                                teacher_fn(fixed_teacher()))
    assert learner.global_step == 64
    assert all(math.isfinite(v) for v in stats.values())
    assert "losses/teacher_kl" in stats
    assert ("gate/cosine" in stats) == (gate != "kl_only")


def test_gate_single_with_a_teacher_is_rl_alone():
    """The value gradient is added ungated and the KL ignored: same weights as no teacher."""
    alone, _ = one_update([])
    gated, stats = one_update(["gate.name=single"], teacher_fn(fixed_teacher()))
    for (name, a), b in zip(alone.agent.state_dict().items(), gated.agent.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    assert stats["gate/weight"] == 0.0


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Breakout+MsPacman"])
def test_plain_sum_shortcut_gives_the_gated_paths_weights(env_id, monkeypatch, tmp_path):
    """RL + KL (multitask) backpropagates the summed losses in one pass on the minibatches
    where it does not measure its statistics: the weights match the gated path's."""
    if env_id == "CartPole-v1":
        teacher, base = teacher_fn(fixed_teacher()), BASE
    else:
        breakout = make_vector_env("Breakout", 1, seed=0, threads=1)
        torch.manual_seed(0)
        net = ActorCritic(make_torso("nature", breakout.spec.obs_shape),
                          breakout.spec.num_actions)
        save_teacher(tmp_path / "t", net, breakout.spec, "nature", {})
        breakout.close()
        base = ["env.id=Breakout+MsPacman", "env.num_envs=2", "env.threads=1",
                "agent.num_steps=8", "total_steps=1000", "teacher.lam_schedule=constant"]
    overrides = [*base, "gate.name=multitask", "teacher.lam=3", "agent.num_minibatches=4",
                 "agent.update_epochs=2"]
    learners = []
    for always_measure in (False, True):
        config = load_config(None, overrides)
        torch.manual_seed(config.seed)
        env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed, threads=1)
        if env_id != "CartPole-v1":
            teacher = load_native(tmp_path / "t", env.spec, torch.device("cpu"))
        learner = Learner(config, env.spec, torch.device("cpu"), teacher)
        if always_measure:
            monkeypatch.setattr(learner, "_measures", lambda minibatch: True)
        rollout, _, _ = learner.collect(env, env.reset())
        stats = learner.learn(rollout)
        env.close()
        assert math.isfinite(stats["gate/cosine"])
        assert stats["gate/weight"] == pytest.approx(1.0)  # <u - g_main, g_aux> / (λ|g_aux|²)
        learners.append(learner)
    shortcut, gated = learners
    for (name, a), b in zip(shortcut.agent.state_dict().items(),
                            gated.agent.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_bf16_torso_keeps_weights_gradients_and_heads_in_fp32():
    torch.manual_seed(0)
    fp32 = ActorCritic(make_torso("nature", (4, 84, 84)), num_actions=4)
    bf16 = ActorCritic(make_torso("nature", (4, 84, 84)), num_actions=4, bf16_torso=True)
    bf16.load_state_dict(fp32.state_dict())
    frames = torch.randint(0, 256, (8, 4, 84, 84), dtype=torch.uint8)
    exact, fast = fp32(frames), bf16(frames)
    assert fast.logits.dtype == fast.value.dtype == torch.float32
    torch.testing.assert_close(fast.value, exact.value, rtol=0.05, atol=0.05)
    fast.value.sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32
               for p in bf16.torso.parameters())


def test_bf16_precision_trains_with_a_gate():
    learner, stats = one_update(["agent.precision=bf16", "gate.name=cosine"],
                                teacher_fn(fixed_teacher()))
    assert learner.agent.bf16_torso and all(math.isfinite(v) for v in stats.values())
    assert all(p.dtype == torch.float32 for p in learner.agent.parameters())


@pytest.mark.parametrize("overrides", [
    [], ["teacher.head=separate", "agent.precision=bf16"],
    ["env.id=Breakout+MsPacman", "env.num_envs=1", "env.threads=1", "agent.torso=impala"],
])
def test_build_agent_is_the_learners_network(overrides):
    config = load_config(None, [*BASE, *overrides])
    env = make_vector_env(config.env.id, config.env.num_envs, seed=0, threads=1)
    torch.manual_seed(0)
    learner = Learner(config, env.spec, torch.device("cpu"))
    torch.manual_seed(0)
    agent = build_agent(config, env.spec)
    env.close()
    assert repr(agent) == repr(learner.agent) and agent.bf16_torso == learner.agent.bf16_torso
    theirs = learner.agent.state_dict()
    for name, tensor in agent.state_dict().items():
        assert torch.equal(tensor, theirs[name]), name
        assert tensor.stride() == theirs[name].stride(), name  # same memory format


@pytest.mark.parametrize("native", [True, False])
def test_bf16_warns_only_where_the_cpu_would_emulate_it(native, monkeypatch, recwarn):
    monkeypatch.setattr(build_module, "native_bf16", lambda device: native)
    one_update(["agent.precision=bf16"])
    warned = [w for w in recwarn if "use agent.precision=fp32" in str(w.message)]
    assert len(warned) == (0 if native else 1)


def test_annealed_learning_rate_follows_cleanrl_and_resumes():
    """CleanRL's schedule: update i of 4 runs at lr (1 - (i - 1) / 4), so the first update uses
    the full lr and the last lr / 4; a learner restored after two updates goes on with it."""
    config = load_config(None, [*BASE, "total_steps=256", "agent.learning_rate=0.001"])
    env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed)
    learner = Learner(config, env.spec, torch.device("cpu"))
    obs, lrs = env.reset(), []
    for update in range(4):
        if update == 2:
            restored = Learner(config, env.spec, torch.device("cpu"))
            restored.load_state_dict(learner.state_dict())
            learner = restored
        rollout, obs, _ = learner.collect(env, obs)
        lrs.append(learner.learn(rollout)["lr"])
    assert learner.global_step == config.total_steps
    assert lrs == pytest.approx([0.001, 0.00075, 0.0005, 0.00025], rel=1e-12)


@pytest.mark.parametrize("anneal", [False, True])
def test_clip_range_anneals_like_the_zoo_only_when_asked(anneal, monkeypatch):
    """agent.anneal_clip: update i of 4 clips at clip_coef (1 - (i - 1) / 4) (the RL Zoo's
    lin_0.1), and the loss uses that range (the clip fraction counts ratios outside it);
    without it the range stays clip_coef (CleanRL)."""
    config = load_config(None, [*BASE, "total_steps=256", "agent.clip_coef=0.2",
                                f"agent.anneal_clip={str(anneal).lower()}"])
    env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed)
    learner = Learner(config, env.spec, torch.device("cpu"))
    obs, clips = env.reset(), []
    seen: list[float] = []
    original = learner_module.ppo_terms

    def spy(*args, **kwargs):
        seen.append(args[7])
        return original(*args, **kwargs)

    monkeypatch.setattr(learner_module, "ppo_terms", spy)
    for _ in range(4):
        rollout, obs, _ = learner.collect(env, obs)
        clips.append(learner.learn(rollout)["clip_range"])
    expected = [0.2, 0.15, 0.1, 0.05] if anneal else [0.2] * 4
    assert clips == pytest.approx(expected, rel=1e-12)
    assert sorted(set(seen), reverse=True) == pytest.approx(sorted(set(expected), reverse=True),
                                                            rel=1e-12)


def test_kl_only_moves_the_student_towards_the_teacher():
    teacher = fixed_teacher()
    config = load_config(None, [*BASE, "gate.name=kl_only", "teacher.lam=1",
                                "agent.learning_rate=0.01", "agent.anneal_lr=false"])
    env = make_vector_env(config.env.id, config.env.num_envs, seed=config.seed)
    learner = Learner(config, env.spec, torch.device("cpu"), teacher_fn(teacher))
    obs = env.reset()
    kls = []
    for _ in range(5):
        rollout, obs, _ = learner.collect(env, obs)
        kls.append(learner.learn(rollout)["losses/teacher_kl"])
    assert kls[-1] < 0.5 * kls[0]


def test_lambda_decays_linearly_for_kickstarting():
    _, stats = one_update(["teacher.lam=2", "teacher.lam_schedule=linear",
                           "teacher.lam_decay_steps=128", "gate.name=multitask"],
                          teacher_fn(fixed_teacher()))
    assert stats["lam"] == pytest.approx(2 * (1 - 64 / 128))


def test_multi_game_update_gates_each_game_against_a_breakout_teacher(tmp_path):
    """Breakout+MsPacman with a 4-action Breakout teacher mapped into the 18 actions by
    meaning: one (RL, KL) pair per game, per-game gate stats, and the agreement ρ of each game
    beside the whole rollout's."""
    breakout = make_vector_env("Breakout", 1, seed=0, threads=1)
    torch.manual_seed(0)
    net = ActorCritic(make_torso("nature", breakout.spec.obs_shape), breakout.spec.num_actions)
    save_teacher(tmp_path / "t", net, breakout.spec, "nature", {})
    breakout.close()
    config = load_config(None, ["env.id=Breakout+MsPacman", "env.num_envs=1", "env.threads=1",
                                "agent.num_steps=8", "agent.num_minibatches=2",
                                "agent.update_epochs=1", "total_steps=1000", "gate.name=cosine",
                                "teacher.lam_schedule=agreement_stop"])
    env = make_vector_env(config.env.id, 1, seed=0, threads=1)
    teacher = load_native(tmp_path / "t", env.spec, torch.device("cpu"))
    learner = Learner(config, env.spec, torch.device("cpu"), teacher)
    rollout, _, _ = learner.collect(env, env.reset())
    logits = rollout.teacher_logits.flatten(0, 1)
    assert logits.shape[-1] == 18 and int((logits > -1e3).sum(-1).max()) == 4
    stats = learner.learn(rollout)
    assert {"gate/weight/Breakout", "gate/weight/MsPacman",
            "losses/teacher_kl/MsPacman"} <= set(stats)
    per_game = [stats[f"teacher/agreement/{game}"] for game in ("Breakout", "MsPacman")]
    assert all(-1 <= rho <= 1 for rho in per_game) and per_game[0] != per_game[1]
    env.close()


@pytest.mark.parametrize(("gate", "measure"), [("multitask", False), ("multitask", True),
                                               ("cosine", True), ("kl_only", True)])
def test_a_game_at_lambda_0_updates_as_if_its_kl_were_absent(gate, measure, breakout_teacher):
    """Per-game λ = (0.7, 0) on Breakout+MsPacman: the gradient of one minibatch equals the one
    where Ms. Pac-Man's KL is absent (Breakout's pair gated at 0.7, Ms. Pac-Man's RL loss
    alone), on the plain sum's one-pass shortcut (measure=False), through the gate, and for
    kl_only; the gate still measures Ms. Pac-Man's cosine."""
    config = load_config(None, ["env.id=Breakout+MsPacman", "env.num_envs=2", "env.threads=1",
                                "agent.num_steps=4", "total_steps=1000", f"gate.name={gate}",
                                "teacher.lam_schedule=constant", "teacher.per_game=true"])
    env = make_vector_env(config.env.id, config.env.num_envs, seed=0, threads=1)
    teacher = load_native(breakout_teacher, env.spec, torch.device("cpu"))
    torch.manual_seed(0)
    learner = Learner(config, env.spec, torch.device("cpu"), teacher)
    rollout, _, _ = learner.collect(env, env.reset())
    env.close()
    n = rollout.actions.numel()
    generator = torch.Generator().manual_seed(0)
    advantages = -torch.randn(n, generator=generator)  # both games' cosines > 0: the gate opens
    mb = Batch(obs=rollout.obs.flatten(0, 1), games=rollout.game_ids.repeat(4),
               actions=rollout.actions.flatten(0, 1), logprobs=rollout.logprobs.flatten(0, 1),
               values=rollout.values.flatten(0, 1), advantages=advantages,
               returns=torch.randn(n, generator=generator),
               teacher=rollout.teacher_logits.flatten(0, 1))
    params = list(learner.agent.parameters())

    def losses() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        for p in params:
            p.grad = None
        out = learner.agent(mb.obs, mb.games)
        policy, value, _ = learner._rl_loss(out, mb.actions, mb.logprobs, mb.advantages,
                                            mb.values, mb.returns)
        return policy, value, teacher_kl(out.distill_logits, mb.teacher)

    policy, value, kl = losses()
    stats = learner._teacher_backward(policy, value, kl, mb, mb.advantages, (0.7, 0.0), measure)
    per_game = [p.grad.clone() for p in params]
    policy, value, kl = losses()
    breakout, pacman = mb.games == 0, mb.games == 1
    if gate == "kl_only":
        (value.mean() + 0.7 * kl[breakout].sum() / n).backward()
    else:
        ((policy[pacman].mean() + value[pacman].mean()) / 2).backward(retain_graph=True)
        gated_backward(policy[breakout].mean() / 2, kl[breakout].mean() / 2, params,
                       learner.gate, 0.7, ungated=value[breakout].mean() / 2)
    for (name, p), got in zip(learner.agent.named_parameters(), per_game, strict=True):
        absent = torch.zeros_like(p) if p.grad is None else p.grad
        torch.testing.assert_close(got, absent, rtol=1e-5, atol=1e-7, msg=name)
    if gate == "cosine":  # at λ = 0.7 Ms. Pac-Man's cosine would have let its KL in
        assert float(stats["gate/cosine/Breakout"]) > 0 and float(stats["gate/cosine/MsPacman"]) > 0
        assert float(stats["gate/weight/MsPacman"]) == 0.0


def test_a2c_uses_its_own_defaults_and_updates():
    learner, stats = one_update(["agent.algo=a2c", "env.num_envs=2", "agent.num_steps=5"],
                                teacher_fn(fixed_teacher()))
    assert isinstance(learner.optimizer, torch.optim.RMSprop)
    assert learner.config.agent.update_epochs == 1 and learner.global_step == 10
    assert stats["losses/approx_kl"] == 0.0 and math.isfinite(stats["gate/cosine"])


def test_both_references_cosines_are_logged():
    """With reference=policy the gate compares with the policy loss and also reports the cosine
    with the whole loss (policy + value); with reference=full the two are the same."""
    _, policy = one_update(["gate.name=cosine", "gate.reference=policy"],
                           teacher_fn(fixed_teacher()))
    _, full = one_update(["gate.name=cosine", "gate.reference=full"],
                         teacher_fn(fixed_teacher()))
    assert policy["gate/cosine"] != pytest.approx(policy["gate/cosine_full"], abs=1e-6)
    assert full["gate/cosine"] == pytest.approx(full["gate/cosine_full"], abs=1e-6)


@pytest.mark.parametrize("shape", [(12, 4, 84, 84), (12, 4), (12,)])
def test_take_rows_is_indexing(shape):
    tensor = torch.randint(0, 255, shape, dtype=torch.uint8)
    if len(shape) == 4:
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    index = torch.tensor([3, 0, 11, 3, 7])
    rows = take_rows(tensor, index)
    assert torch.equal(rows, tensor[index])
    if len(shape) == 4:
        assert rows.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("with_teacher", [False, True])
def test_batch_take_rows_takes_the_same_rows_of_every_field(with_teacher):
    n = 12
    obs = torch.randint(0, 255, (n, 4, 84, 84), dtype=torch.uint8)
    batch = Batch(obs=obs.contiguous(memory_format=torch.channels_last),
                  games=torch.arange(n) % 2, actions=torch.arange(n), logprobs=-torch.rand(n),
                  values=torch.randn(n), advantages=torch.randn(n), returns=torch.randn(n),
                  teacher=torch.randn(n, 18) if with_teacher else None)
    index = torch.tensor([3, 0, 11, 3, 7])
    rows = batch.take_rows(index)
    assert rows.obs.is_contiguous(memory_format=torch.channels_last)
    for field in dataclasses.fields(Batch):
        whole, taken = getattr(batch, field.name), getattr(rows, field.name)
        if whole is None:
            assert taken is None
        else:
            assert torch.equal(taken, whole[index]), field.name
