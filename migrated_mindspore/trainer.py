"""Meta-training and evaluation of MAMO (mamo.md, "One user" and "Global update").

Local updates run on a ``LocalLearner`` that carries a leading user axis: one user at
a time in meta-training (the memories are written after each user), many at once in
evaluation (users are independent there).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from .config import Config
from .data import Episodes, Features
from .dataset import EpisodeDataset
from .memory import Memories
from .metrics import predicted_rating, scenario_metrics
from .model import MAMO, LocalLearner, UserCrossEntropy, active_columns, active_slots
import mindspore
from ._torch_compat import Adam, Optimizer, accumulate_grad, assign_data, cast_cell, compiled_value_and_grad, data_loader, detach_of, jit_construct, load_state_dict, module_parameters
from mindspore import nn, ops


class PerUserClip(nn.Cell):
    """``clip_grad_norm_`` applied to each user (leading axis) separately, as a module:
    ``clip(*grads)`` returns the gradients scaled so that each user's total norm is at most
    ``max_norm``."""

    def __init__(self, max_norm: float):
        super().__init__()
        self.max_norm = max_norm

    @jit_construct
    def construct(self, *grads: mindspore.Tensor) -> list[mindspore.Tensor]:
        n_users = grads[0].shape[0]
        squares = []
        for g in grads:
            squares.append(ops.sum(ops.mul(g, g).view(n_users, -1), dim=1))
        total = ops.sqrt(ops.sum(ops.stack(squares, axis=1), dim=1))
        coef = ops.clamp(self.max_norm / (total + 1e-6), max=1.0)
        _items0 = []
        for g in grads:
            _items0.append(g * coef.view(n_users, *([1] * (g.dim() - 1))))
        return _items0


def pad_users(t: mindspore.Tensor, n_users: int) -> mindspore.Tensor:
    """t (B, ...) -> (n_users, ...): the last user repeated."""
    extra = t[-1:].tile((n_users - t.shape[0], *([1] * (t.dim() - 1))))
    return ops.cat([t, extra], axis=0)


class DivergedError(FloatingPointError):
    """Training produced a non-finite loss (see the README on rho and lamda)."""


def check_finite(losses: list, what: str) -> None:
    if not np.all(np.isfinite(losses)):
        raise DivergedError(f"{what} is not finite: training diverged; lower --rho / --lamda")


@dataclass
class UserResult:
    """What one local update produced (for the memories, the global step and tests)."""
    support_losses: list = field(default_factory=list)
    query_loss: float = 0.0
    query_logits: mindspore.Tensor = None
    grads: list = None
    learner: LocalLearner = None


class MAMOTrainer:
    def __init__(self, cfg: Config, features: Features):
        self.cfg = cfg
        mindspore.set_seed(cfg.seed)
        self.device = cfg.device
        self.model = MAMO(features.user_vocab, features.item_vocab, features.item_multihot,
                          features.n_classes, cfg.embedding_dim, cfg.active_func)
        n_user_params = sum(p.numel() for p in self.model.user_net_parameters())
        self.memory = Memories(cfg.n_k, self.model.profile_dim, n_user_params, 2 * cfg.embedding_dim,
                               cfg.alpha, cfg.beta, cfg.gamma, cfg.memory_eps)
        if cfg.dtype == "float64":
            cast_cell(self.model, dtype=mindspore.float64)
            cast_cell(self.memory, dtype=mindspore.float64)
        self.float_dtype = np.float64 if cfg.dtype == "float64" else np.float32
        self.criterion = UserCrossEntropy()
        self.clip_per_user = PerUserClip(cfg.clip_norm)
        self.learners = {}  # (n_users, slots) -> LocalLearner, reset for every batch
        self.grad_chunk = 20  # meta-train users whose gradients are summed in one go
        self.epoch = 0

    # ----- one batch of users -------------------------------------------------------
    def make_learner(self, user_x: mindspore.Tensor, item_multi: mindspore.Tensor,
                     write_profile: bool, slots: tuple = None) -> LocalLearner:
        """Read the memories for the users in user_x and set up their personalised parameters.

        item_multi (B, n, W): the multi-hot features of all their items (support and query).
        slots: the learner's column slots per multi-hot field (default: enough for these users).
        The learner keeps the memory attention it was built with (for the memory writes)."""
        active = None
        dims = self.model.item_loading.multihot_dims
        if dims:
            multi = item_multi.asnumpy()
            active = [active_columns(user, dims) for user in multi]
            if slots is None:
                slots = active_slots(active, dims)
        learner = self.learner(user_x.shape[0], slots or ())
        p_u = self.model.embed_user(user_x)
        # the attention, the mem-layer weight and theta_u = phi - tao * b_u, in one module call
        # (phi as separate, detached arguments: a compiled construct takes a list argument as
        # a constant, and MindSpore 2.10's rejects another module's Parameters as arguments)
        phis = [detach_of(phi) for phi in self.model.user_net_parameters()]
        attention, mem_weight, theta_u = self.memory(p_u, self.cfg.tao, *phis)
        if write_profile:
            self.memory.write_profile(attention, p_u)
        learner.reset(self.model, theta_u, mem_weight, active)
        learner.attention = attention
        return learner

    def learner(self, n_users: int, slots: tuple) -> LocalLearner:
        """The learner of this shape, built on first use and reused afterwards."""
        key = (n_users, slots)
        if key not in self.learners:
            self.learners[key] = LocalLearner(self.model, n_users, slots)
        return self.learners[key]

    def pass_slots(self, episodes: Episodes) -> tuple:
        """Column slots per multi-hot field enough for every user of ``episodes`` (one
        learner shape for a whole pass; slots are per user, whatever the batch size)."""
        dims = self.model.item_loading.multihot_dims
        if not dims:
            return ()
        multi = episodes.features.item_multi
        items = np.concatenate([episodes.support_items, episodes.query_items], axis=1)
        active = [active_columns(multi[user_items], dims) for user_items in items]
        return active_slots(active, dims)

    def local_gradients(self, learner: LocalLearner, optimizer: Optimizer, user_x: mindspore.Tensor,
                        item_x: mindspore.Tensor, item_multi: mindspore.Tensor, labels: mindspore.Tensor):
        """The learner's gradients of the users' loss on these items, left in its parameters'
        ``.grad``; returns the loss, the logits and each user's loss.  The loss is the
        cross-entropy averaged within each user and summed over users (so Adam stays per
        user).  One function for the support steps and the query, so a graph compiler compiles
        one step where their shapes agree (batch_size == query_size in the defaults)."""
        optimizer.zero_grad()
        def _loss_fn(learner, user_x, item_x, item_multi, labels, self_criterion):
            logits = learner(user_x, item_x, item_multi)
            losses = self_criterion(logits, labels)
            loss = losses.sum()
            return loss, logits, losses
        (loss, logits, losses), _loss_grads = compiled_value_and_grad(_loss_fn, optimizer.parameters, has_aux=True)(learner, user_x, item_x, item_multi, labels, self.criterion)
        accumulate_grad(optimizer.parameters, _loss_grads)
        return loss, logits, losses

    def clip(self, learner: LocalLearner) -> None:
        """clip_grad_norm_ for each user separately (one user in meta-training: the same)."""
        params = list(module_parameters(learner))
        for param, grad in zip(params, self.clip_per_user(*[p.grad for p in params])):
            param.grad = grad

    def adapt(self, batch: list[mindspore.Tensor], write_profile: bool = False, on_step=None,
              n_users: int = None, slots: tuple = None, query_grads: bool = True) -> UserResult:
        """Local update on the support set, then the query loss and its (first-order) gradient.

        n_users pads a short batch (repeating its last user) to that many users, so that
        every batch of a pass has one shape; results cover the real users only.
        query_grads=False (evaluation) computes the query loss and logits without gradients
        (``result.grads`` stays None)."""
        tensors = [t for t in batch[:7]]
        n_real = tensors[0].shape[0]
        if n_users is not None and n_users > n_real:
            tensors = [pad_users(t, n_users) for t in tensors]
        user_x, support_x, support_multi, support_y, query_x, query_multi, query_y = tensors
        learner = self.make_learner(user_x, ops.cat([support_multi, query_multi], axis=1), write_profile, slots)
        optimizer = Adam(module_parameters(learner), lr=self.cfg.rho)
        result = UserResult(learner=learner)
        n_support = support_y.shape[1]
        for _ in range(self.cfg.n_inner_loop):
            for start in range(0, n_support, self.cfg.batch_size):
                stop = start + self.cfg.batch_size
                batch_x, batch_multi = support_x[:, start:stop], support_multi[:, start:stop]
                batch_y = support_y[:, start:stop]
                loss, _, _ = self.local_gradients(learner, optimizer, user_x, batch_x, batch_multi, batch_y)
                self.clip(learner)
                optimizer.step()
                result.support_losses.append(loss.item())
                if on_step is not None:
                    on_step(len(result.support_losses), loss.item(), learner)
        if query_grads:
            _, query_logits, query_losses = self.local_gradients(learner, optimizer, user_x, query_x,
                                                                 query_multi, query_y)
            result.grads = [p.grad for p in module_parameters(learner)]
        else:
            query_logits = learner(user_x, query_x, query_multi)
            query_losses = self.criterion(query_logits, query_y)
        result.query_loss = query_losses[:n_real].sum().item()
        result.query_logits = ops.stop_gradient(query_logits[:n_real])
        return result

    # ----- meta-training ------------------------------------------------------------
    def train_users(self, loader, progress: bool = False, on_user=None, on_global=None,
                    on_step=None, slots: tuple = None) -> list[float]:
        """One pass of meta-training over the users the loader yields, one user per batch.

        on_step(step, loss, learner) runs after each local step, on_user(result) after each
        user's memory writes, on_global(grads) before each global step (the equivalence
        harness records all three)."""
        losses = []
        grad_sum = [ops.zeros_like(p) for p in module_parameters(self.model)]
        pending = []  # (gradients, column slots, slots in use) of users not yet in grad_sum
        n_in_batch = 0
        for batch in tqdm(loader, desc="meta-train", unit="user", disable=not progress, leave=False):
            result = self.adapt(batch, write_profile=True, on_step=on_step, slots=slots)
            losses.append(result.query_loss)
            learner = result.learner
            user_grad = ops.cat([p.grad.view(1, -1) for p in learner.user_net_parameters()], axis=1)
            self.memory.write_fast_grad(learner.attention, user_grad)
            self.memory.write_task(learner.attention, learner.mem_w)
            pending.append((result.grads, learner.columns, learner.used))
            if on_user is not None:
                on_user(result)
            n_in_batch += 1
            if len(pending) == self.grad_chunk or n_in_batch == self.cfg.meta_batch_size:
                grad_sum = self.add_gradients(grad_sum, pending, learner)
                pending = []
            if n_in_batch == self.cfg.meta_batch_size:
                if on_global is not None:
                    on_global(grad_sum)
                self.global_update(grad_sum)
                grad_sum = [ops.zeros_like(p) for p in module_parameters(self.model)]
                n_in_batch = 0
        if pending:
            grad_sum = self.add_gradients(grad_sum, pending, learner)
        if n_in_batch:
            if on_global is not None:
                on_global(grad_sum)
            self.global_update(grad_sum)
        return losses

    def add_gradients(self, grad_sum: list[mindspore.Tensor], pending: list, learner: LocalLearner) -> list[mindspore.Tensor]:
        """grad_sum plus the gradients of the ``pending`` users (``(grads, columns, used)`` each),
        laid out like ``MAMO.parameters()``: their gradients are stacked along the user axis
        and summed in one go, one concatenation and one sum per parameter for up to
        ``grad_chunk`` users instead of a sum and an addition per parameter and user."""
        grads = [ops.cat(parts, axis=0) for parts in zip(*[g for g, _, _ in pending])]
        columns = used = None
        if learner.n_fields:
            columns = np.concatenate([c for _, c, _ in pending])
            used = np.concatenate([u for _, _, u in pending])
        return [acc + g for acc, g in zip(grad_sum, learner.global_gradients(grads, columns, used))]

    def global_update(self, grads: list[mindspore.Tensor]) -> None:
        """phi <- phi - lamda * sum_u g_u."""
        for param, grad in zip(module_parameters(self.model), grads):
            assign_data(param, param - self.cfg.lamda * grad)

    def epoch_users(self, n_train: int, epoch: int) -> np.ndarray:
        """The meta-train users of an epoch: a seeded permutation, first ``users_per_epoch``."""
        order = np.random.default_rng(self.cfg.random_state + epoch).permutation(n_train)
        return order[: self.cfg.users_per_epoch]

    def train_epoch(self, train: Episodes, progress: bool = False, on_user=None, on_global=None,
                    on_step=None) -> dict:
        rows = self.epoch_users(len(train.user_index), self.epoch)
        users = train.subset(rows)
        loader = data_loader(EpisodeDataset(users, self.float_dtype), batch_size=1, shuffle=False)
        losses = self.train_users(loader, progress, on_user, on_global, on_step, self.pass_slots(users))
        check_finite(losses, "meta-train query loss")
        self.epoch += 1
        return {"epoch": self.epoch, "train_query_loss": float(np.mean(losses)), "n_users": len(losses)}

    # ----- evaluation ---------------------------------------------------------------
    def evaluate(self, test: Episodes, batch_size: int = None, progress: bool = False) -> dict:
        """Local update per meta-test user (memories read, never written), then metrics."""
        batch_size = batch_size or self.cfg.eval_batch_size
        batch_size = min(batch_size, len(test.user_index))
        loader = data_loader(EpisodeDataset(test, self.float_dtype), batch_size=batch_size, shuffle=False)
        slots = self.pass_slots(test)
        preds, trues, scenarios, losses = [], [], [], []
        for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, leave=False):
            result = self.adapt(batch, write_profile=False, n_users=batch_size, slots=slots, query_grads=False)
            preds.append(predicted_rating(result.query_logits))
            trues.append(batch[6] + 1)
            scenarios.append(batch[7])
            losses.append(result.query_loss)
        metrics = scenario_metrics(ops.cat(preds), ops.cat(trues), ops.cat(scenarios))
        check_finite(losses, "evaluation query loss")
        metrics["query_loss"] = float(np.sum(losses) / len(test.user_index))
        return metrics

    # ----- state --------------------------------------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The whole trainer state (parameters, buffers, memories) as named numpy arrays."""
        state = {}
        for prefix, module in (("model", self.model), ("memory", self.memory)):
            for name, value in module.parameters_dict().items():
                state[f"{prefix}.{name}"] = ops.stop_gradient(value).asnumpy().copy()
        return state

    def load_state_arrays(self, state: dict) -> None:
        for prefix, module in (("model", self.model), ("memory", self.memory)):
            own = {name[len(prefix) + 1:]: mindspore.Tensor.from_numpy(np.asarray(value))
                   for name, value in state.items() if name.startswith(prefix + ".")}
            load_state_dict(module, own)
