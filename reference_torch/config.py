"""Hyper-parameters of MAMO, with the defaults of the published reproduction (mamo.md)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class Config:
    support_size: int = 15
    query_size: int = 5
    embedding_dim: int = 100
    n_layer: int = 2
    alpha: float = 0.5  # profile-memory write rate
    beta: float = 0.05  # fast-gradient-memory write rate
    gamma: float = 0.1  # task-memory write rate
    rho: float = 0.01  # local (inner) learning rate
    lamda: float = 0.05  # global (meta) learning rate
    tao: float = 0.01  # how far the fast-gradient memory moves the user net
    n_k: int = 3  # memory slots
    batch_size: int = 5  # local mini-batch over the support set
    n_epoch: int = 5
    n_inner_loop: int = 1
    active_func: str = "leaky_relu"
    split_ratio: float = 0.8
    random_state: int = 100
    # The release runs one global step per epoch over 100 training users.
    users_per_epoch: int = 100
    meta_batch_size: int = 100
    eval_batch_size: int = 64
    clip_norm: float = 5.0
    memory_eps: float = 1e-5
    seed: int = 100
    device: str = "cpu"
    # float64 is for equivalence checks: it separates semantics from float32 rounding.
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.n_layer != 2:
            raise ValueError(f"n_layer={self.n_layer}: only the paper's 2-layer nets are implemented")
        for name in ("support_size", "query_size", "embedding_dim", "n_k", "batch_size",
                     "n_inner_loop", "users_per_epoch", "meta_batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
