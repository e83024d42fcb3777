"""A model in the Hugging Face style: ``forward(input_ids, attention_mask=None, labels=None)``
called as ``model(**batch)`` with a dict batch, returning a dict whose ``"loss"`` is computed
inside ``forward`` when labels are given; the loop reads ``outputs["loss"]`` and
``outputs["logits"]``; a linear warm-up written as a LambdaLR over steps."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyClassifier(nn.Module):
    def __init__(self, vocab, dim, n_labels):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, n_labels)

    def forward(self, input_ids, attention_mask=None, labels=None):
        h = self.embed(input_ids)
        if attention_mask is not None:
            mask = attention_mask.unsqueeze(-1).float()
            h = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        else:
            h = h.mean(1)
        logits = self.head(torch.tanh(self.proj(h)))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out


def build():
    return TinyClassifier(30, 8, 3)


def data(rng):
    ids = rng.integers(1, 30, (24, 6))
    mask = (rng.random((24, 6)) > 0.3).astype(np.int64)
    return {"ids": ids, "mask": mask, "labels": rng.integers(0, 3, 24)}


def run(model, d, workdir):
    batches = [{"input_ids": torch.from_numpy(d["ids"][i:i + 8]),
                "attention_mask": torch.from_numpy(d["mask"][i:i + 8]),
                "labels": torch.from_numpy(d["labels"][i:i + 8])} for i in range(0, 24, 8)]
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    total = 9
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / 3) * (1 - step / total))
    log = []
    for epoch in range(3):
        model.train()
        for batch in batches:
            outputs = model(**batch)
            loss = outputs["loss"]
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
            log.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(batches[0]["input_ids"], attention_mask=batches[0]["attention_mask"])["logits"]
        log.append(float(logits.sum()))
        log.append(float((logits.argmax(-1) == batches[0]["labels"]).float().mean()))
    return log
