"""Two objectives from recent research code: a CLIP-style contrastive loss (L2-normalised
embeddings, a learned 0-d ``logit_scale`` Parameter clamped in place after each step, labels
from ``torch.arange``, symmetric cross-entropy) and knowledge distillation from a frozen
teacher in eval mode (temperature-softened ``kl_div`` with ``reduction="batchmean"``, scaled by
T squared, mixed with the hard-label loss)."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class DualEncoder(nn.Module):
    def __init__(self, n_a, n_b, dim, n_classes):
        super().__init__()
        self.enc_a = nn.Sequential(nn.Linear(n_a, 16), nn.GELU(), nn.Linear(16, dim))
        self.enc_b = nn.Linear(n_b, dim)
        self.classifier = nn.Linear(dim, n_classes)
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    def forward(self, a, b):
        za = F.normalize(self.enc_a(a), dim=-1)
        zb = F.normalize(self.enc_b(b), dim=-1)
        return self.logit_scale.exp() * za @ zb.t(), self.classifier(za)


class Teacher(nn.Module):
    def __init__(self, n_a, n_classes):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_a, 12), nn.Tanh(), nn.Dropout(0.5), nn.Linear(12, n_classes))

    def forward(self, a):
        return self.net(a)


def build():
    model = DualEncoder(6, 4, 5, 3)
    model.teacher = Teacher(6, 3)  # kept on the model so the harness copies its weights too
    return model


def data(rng):
    return {"a": rng.normal(size=(16, 6)).astype(np.float32), "b": rng.normal(size=(16, 4)).astype(np.float32),
            "y": rng.integers(0, 3, 16)}


def run(model, d, workdir, epochs=3, T=2.0, alpha=0.7):
    a, b, y = (torch.from_numpy(d[k]) for k in ("a", "b", "y"))
    teacher = model.teacher
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    params = [p for n, p in model.named_parameters() if not n.startswith("teacher.")]
    opt = torch.optim.AdamW(params, lr=0.02, weight_decay=0.05)
    log = []
    for epoch in range(epochs):
        for start in (0, 8):
            xa, xb, yy = a[start:start + 8], b[start:start + 8], y[start:start + 8]
            logits, class_logits = model(xa, xb)
            labels = torch.arange(len(xa))
            contrastive = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
            with torch.no_grad():
                soft = F.softmax(teacher(xa) / T, dim=-1)
            distill = F.kl_div(F.log_softmax(class_logits / T, dim=-1), soft, reduction="batchmean") * T * T
            loss = contrastive + alpha * distill + (1 - alpha) * F.cross_entropy(class_logits, yy)
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.logit_scale.data.clamp_(0, math.log(100))
            log.append(loss.item())
        log.append(float(model.logit_scale))
    with torch.no_grad():
        for p in params:
            log.append(float(p.double().sum()))
    return log
