"""lid.176 in numpy: fastText's supervised prediction for a whole Arrow batch at once.

fastText's C++ `predict` reads one text at a time: it splits it into words, builds the character
2- to 4-grams of each word it does not know as new strings, hashes each into one of 2 M buckets
and looks the bucket up in a hash map of the 42,765 that `lid.176.ftz` kept. That is ~70 % of the
filter chain's CPU on web text. Here the same arithmetic runs on the batch's bytes:

- words: runs of bytes other than fastText's separators (space, \\t, \\n, \\v, \\f, \\r, \\0);
  each text ends with the end-of-sentence word `</s>`, as fastText's `predict` appends (a `</s>`
  written in the text ends it there, as it ends fastText's line);
- a word's input rows: its own row if it is in the vocabulary, then the retained n-grams of
  `<word>` (FNV-1a over the UTF-8 bytes, each byte sign-extended, as fastText hashes), in buckets
  mapped through the model's pruning table; the quantised rows are decoded once into a dense matrix;
- the hidden vector: the mean of those rows; the output: the hierarchical softmax's tree (built
  from the label counts as fastText builds it), every leaf's log-probability with fastText's
  `log(x + 1e-5)`, leaves below `log(1e-5)` left out as its search leaves them out.

The sum of a word's rows is kept per distinct word (a hash of its bytes: a 64-bit polynomial
hash and its length) across batches, so a word is decoded once per process (two words sharing a
key would share sums: odds ~1e-8 for the 512k words the cache holds). Sums are float32 in
another order than fastText's: probabilities differ a little (at most 6e-6 on the benchmark
corpus's 27,060 documents, 2e-5 on a 334 KB man page: a million rows summed) and the labels are
the same (`tests/test_langid.py` compares the two on man pages in nine languages and written edge
cases; `python bench/langid_engine.py` on the benchmark corpus, every label and decision).
"""
from __future__ import annotations

import struct
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from pipeline.unicode import string_bytes

SEPARATORS = np.zeros(256, bool)
SEPARATORS[[32, 9, 10, 11, 12, 13, 0]] = True
# fastText hashes `int8_t` bytes: those >= 0x80 are sign-extended before the xor
SIGNED = np.array([b if b < 128 else 0xFFFFFF00 | b for b in range(256)], np.uint32)
FNV_BASIS, FNV_PRIME = np.uint32(2166136261), np.uint32(16777619)
FASTTEXT_MAGIC, FASTTEXT_VERSION = 793712314, 12
LOSS_HS, MODEL_SUPERVISED = 1, 3
CACHE_WORDS = 1 << 19  # distinct words whose row sums are kept (32 MiB of float32 at dim 16)
NEW_WORDS_AT_ONCE = 16384


class FtzModel:
    """What prediction needs from a quantised supervised fastText file (`fasttext quantize`)."""

    def __init__(self, path: Path) -> None:
        raw = Path(path).read_bytes()
        pos = 0

        def read(fmt: str) -> tuple:
            nonlocal pos
            values = struct.unpack_from(fmt, raw, pos)
            pos += struct.calcsize(fmt)
            return values

        def array(dtype: type, count: int) -> np.ndarray:
            nonlocal pos
            out = np.frombuffer(raw, dtype, count=count, offset=pos).copy()
            pos += out.nbytes
            return out

        magic, version = read("<ii")
        if (magic, version) != (FASTTEXT_MAGIC, FASTTEXT_VERSION):
            raise ValueError(f"{path}: not a fastText model file of version {FASTTEXT_VERSION}")
        (self.dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, self.bucket, self.minn,
         self.maxn, _lr_update) = read("<12i")
        read("<d")
        size, self.nwords, nlabels = read("<3i")
        _ntokens, prune_size = read("<2q")
        entries = []
        for _ in range(size):
            end = raw.index(b"\0", pos)
            word = raw[pos:end]
            pos = end + 1
            count, _type = read("<qb")
            entries.append((word, count))
        prune = array(np.int32, 2 * prune_size).reshape(-1, 2)
        (quantised,) = read("<?")
        if not (quantised and loss == LOSS_HS and model == MODEL_SUPERVISED and word_ngrams == 1 and prune_size > 0):
            raise ValueError(f"{path}: only pruned, quantised supervised models with a hierarchical softmax "
                             "and no word n-grams (lid.176.ftz) are read here; use `engine: fasttext`")
        qnorm, = read("<?")
        rows, dim = read("<2q")
        (codesize,) = read("<i")
        codes = array(np.uint8, codesize)
        pq_dim, nsubq, dsub, lastdsub = read("<4i")
        centroids = array(np.float32, pq_dim * 256)
        norms = np.ones(rows, np.float32)
        if qnorm:
            norm_codes = array(np.uint8, rows)
            if read("<4i") != (1, 1, 1, 1):
                raise ValueError(f"{path}: unexpected norm quantiser")
            norms = array(np.float32, 256)[norm_codes]
        qout, = read("<?")
        out_rows, out_dim = read("<2q")
        if qout or dsub != lastdsub or dim != self.dim:
            raise ValueError(f"{path}: quantised output or uneven sub-quantisers are not read here; use `engine: fasttext`")
        self.output = array(np.float32, out_rows * out_dim).reshape(out_rows, out_dim)
        if pos != len(raw):
            raise ValueError(f"{path}: {len(raw) - pos} bytes left after the model")
        # product quantisation: row r is, per sub-quantiser m, centroid codes[r, m] scaled by its norm
        subq = centroids.reshape(nsubq, 256, dsub)[np.arange(nsubq)[None, :], codes.reshape(rows, nsubq)]
        self.input = (norms[:, None, None] * subq).reshape(rows, dim).astype(np.float32)
        self.words = [w.decode("utf-8") for w, _ in entries[:self.nwords]]
        self.labels = [w.decode("utf-8").removeprefix("__label__") for w, _ in entries[self.nwords:]]
        self.label_counts = np.array([c for _, c in entries[self.nwords:]], np.int64)
        assert len(self.labels) == nlabels
        self.bucket_row = np.full(self.bucket, -1, np.int32)
        self.bucket_row[prune[:, 0]] = prune[:, 1] + self.nwords


class Lid176:
    """Top-k labels and probabilities of lid.176 for every text of an Arrow string array."""

    def __init__(self, path: Path) -> None:
        self.model = m = FtzModel(path)
        self.labels = m.labels
        self._build_tree(m.label_counts)
        self._keys = np.zeros(0, np.uint64)     # sorted word hashes ...
        self._slots = np.zeros(0, np.int64)     # ... and where each word's sums are
        self._sums = np.zeros((0, m.dim), np.float32)
        self._counts = np.zeros(0, np.int64)
        self._filled = 0
        vocab = pa.array(m.words, pa.large_string())
        self._eos_key = word_keys(pa.array(["</s>"], pa.large_string()))[0]
        sums, counts = self._ngram_sums(vocab)
        sums[0], counts[0] = 0, 0  # `</s>` is a word without n-grams
        self._remember(word_keys(vocab), m.input[:m.nwords] + sums, counts + 1)

    def _build_tree(self, counts: np.ndarray) -> None:
        """fastText's Huffman tree over the labels (HierarchicalSoftmaxLoss::buildTree)."""
        osz = len(counts)
        count = np.full(2 * osz - 1, 1e15)
        count[:osz] = counts
        self.left = np.full(2 * osz - 1, -1)
        self.right = np.full(2 * osz - 1, -1)
        leaf, node = osz - 1, osz
        for i in range(osz, 2 * osz - 1):
            pair = []
            for _ in range(2):
                if leaf >= 0 and count[leaf] < count[node]:
                    pair.append(leaf)
                    leaf -= 1
                else:
                    pair.append(node)
                    node += 1
            self.left[i], self.right[i] = pair
            count[i] = count[pair[0]] + count[pair[1]]

    def predict(self, texts: pa.Array | pa.ChunkedArray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(labels, probabilities), each (len(texts), k), best first; a label fastText would not
        return (probability under 1e-5) is None with probability 0."""
        hidden = self._hidden(texts)
        osz, n = len(self.labels), len(hidden)
        out = self.model.output[:osz - 1]
        dot = np.zeros((n, osz - 1), np.float32)
        for j in range(out.shape[1]):  # fastText's order of the float32 dot product
            dot += out[None, :, j] * hidden[:, j:j + 1]
        with np.errstate(over="ignore"):  # exp overflows to inf as expf does: f is then 0
            denominator = np.float32(1) + np.exp(-dot.astype(np.float64)).astype(np.float32)
        f = (1.0 / denominator.astype(np.float64)).astype(np.float32)
        go_left = _std_log((1.0 - f.astype(np.float64)).astype(np.float32))
        go_right = _std_log(f)
        score = np.zeros((n, 2 * osz - 1), np.float32)
        alive = np.ones((n, 2 * osz - 1), bool)
        floor = _std_log(np.float32(0))
        for node in range(2 * osz - 2, osz - 1, -1):  # a parent is always numbered after its children
            for child, step in ((self.left[node], go_left), (self.right[node], go_right)):
                score[:, child] = score[:, node] + step[:, node - osz]
                alive[:, child] = alive[:, node] & (score[:, child] >= floor)
        leaves = np.where(alive[:, :osz], score[:, :osz], -np.inf)
        top = np.argsort(-leaves, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(leaves, top, 1)
        found = np.isfinite(best)
        probs = np.where(found, np.exp(np.where(found, best, 0).astype(np.float64)), 0).astype(np.float32)
        labels = np.array(self.labels, dtype=object)[top]
        labels[~found] = None
        return labels, probs

    def _hidden(self, texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        offsets, data = string_bytes(texts)
        ndoc, size = len(texts), len(data)
        sep = SEPARATORS[data]
        word = ~sep
        edge = np.zeros(size + 1, bool)  # a word starts or ends here
        if size:
            edge[0], edge[size] = word[0], word[-1]
            np.not_equal(sep[:-1], sep[1:], out=edge[1:size])
        edge[offsets] = True  # texts are not separated by a separator in `data`
        starts = np.flatnonzero(word & edge[:-1])
        ends = np.flatnonzero(word & edge[1:]) + 1
        doc = np.searchsorted(offsets, starts, "right") - 1
        word_offsets = np.zeros(len(starts) + 1, np.int64)
        np.cumsum(ends - starts, out=word_offsets[1:])
        words = pa.Array.from_buffers(pa.large_string(), len(starts),
                                      [None, pa.py_buffer(word_offsets), pa.py_buffer(data[word])])
        encoded = pc.dictionary_encode(words)
        distinct, index = encoded.dictionary, encoded.indices.to_numpy()
        keys = word_keys(distinct)
        slot = self._lookup(keys)
        new = np.flatnonzero(slot < 0)
        if len(new):
            fresh = distinct.take(pa.array(new))
            # in slices: a word's n-grams are ~3 entries per byte of the sparse matrix, ~100 MB for
            # a batch's 100,000 new words at once
            parts = [self._ngram_sums(fresh.slice(i, NEW_WORDS_AT_ONCE))
                     for i in range(0, len(fresh), NEW_WORDS_AT_ONCE)]
            sums, counts = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            label = pc.starts_with(fresh, "__label__").to_numpy(zero_copy_only=False)
            sums[label], counts[label] = 0, 0  # fastText reads these as labels, not words
            slot[new] = self._remember(keys[new], sums, counts)
        eos = np.flatnonzero(keys == self._eos_key)
        if len(eos):  # fastText's line ends at a written `</s>`: what follows is not read
            position = np.arange(len(index))
            first_eos = np.full(ndoc, len(index))
            np.minimum.at(first_eos, doc[index == eos[0]], position[index == eos[0]])
            read = position < first_eos[doc]
            index, doc = index[read], doc[read]
        per_doc = np.bincount(doc, minlength=ndoc)
        indptr = np.zeros(ndoc + 1, np.int64)
        np.cumsum(per_doc, out=indptr[1:])
        cols = slot[index]
        docs = sp.csr_matrix((np.ones(len(cols), np.float32), cols, indptr), shape=(ndoc, len(self._sums)))
        hidden = np.asarray(docs @ self._sums, dtype=np.float32) + self.model.input[0]  # `</s>`
        rows = np.bincount(doc, weights=self._counts[cols], minlength=ndoc) + 1
        hidden *= (1.0 / rows).astype(np.float32)[:, None]
        return hidden

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        order = np.argsort(keys)
        sorted_keys = keys[order]
        slot = np.full(len(keys), -1, np.int64)
        if len(self._keys):
            at = np.minimum(np.searchsorted(self._keys, sorted_keys), len(self._keys) - 1)
            hit = self._keys[at] == sorted_keys
            slot[order[hit]] = self._slots[at[hit]]
        return slot

    def _remember(self, keys: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Store the sums; index the first of them while the cache has room (the rest are only
        for this batch: their slots are reused by the next)."""
        start = self._filled
        need = start + len(keys)
        if need > len(self._sums):
            # the cache and room for a quarter more at once: pages are only committed once written,
            # and growing step by step copied 32 MiB per batch once the cache was full (0.65 s of
            # the benchmark corpus's 6 s)
            size = max(need, CACHE_WORDS) + CACHE_WORDS // 4
            grown_sums, grown_counts = np.zeros((size, self.model.dim), np.float32), np.zeros(size, np.int64)
            grown_sums[:start], grown_counts[:start] = self._sums[:start], self._counts[:start]
            self._sums, self._counts = grown_sums, grown_counts
        slots = np.arange(start, need)
        self._sums[slots], self._counts[slots] = sums, counts
        room = max(0, min(len(keys), CACHE_WORDS - start))
        if room:
            order = np.argsort(keys[:room], kind="stable")
            at = np.searchsorted(self._keys, keys[:room][order])
            self._keys = np.insert(self._keys, at, keys[:room][order])
            self._slots = np.insert(self._slots, at, slots[:room][order])
            self._filled = start + room
        return slots

    def _ngram_sums(self, words: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Per word, the sum of the input rows of the retained character n-grams of `<word>`
        (Dictionary::computeSubwords) and how many there are."""
        m = self.model
        offsets, data = string_bytes(words)
        n_words = len(words)
        lengths = np.diff(offsets)
        begin = np.zeros(n_words + 1, np.int64)
        np.cumsum(lengths + 2, out=begin[1:])
        total = int(begin[-1])
        framed = np.zeros(total + 4 * m.maxn, np.uint8)  # zero padding: hashes read past the end
        inner = np.ones(total, bool)
        inner[begin[:-1]] = inner[begin[1:] - 1] = False
        framed[:total][inner] = data
        framed[begin[:-1]], framed[begin[1:] - 1] = ord("<"), ord(">")
        chars = np.flatnonzero((framed[:total] & 0xC0) != 0x80)  # UTF-8 character starts
        n_chars = len(chars)
        word_of_char = np.repeat(np.arange(n_words, dtype=np.int32),
                                 np.diff(np.append(np.searchsorted(chars, begin[:-1]), n_chars)))
        bounds = np.append(chars, total)
        signed = SIGNED[framed]
        prefix_hash = []  # FNV-1a of the b bytes from each position, b = 1..maxn
        h = np.full(total, FNV_BASIS, np.uint32)
        for b in range(m.maxn):
            h = (h ^ signed[b:b + total]) * FNV_PRIME
            prefix_hash.append(h)
        owners, rows = [], []
        for n in range(m.minn, m.maxn + 1):
            first = np.flatnonzero(word_of_char[n - 1:] == word_of_char[:max(0, n_chars - n + 1)])
            nbytes = bounds[first + n] - bounds[first]
            at = chars[first]
            hashes = prefix_hash[n - 1][at]
            wide = np.flatnonzero(nbytes != n)  # n characters in more than n bytes
            if wide.size:
                at_w, len_w = at[wide], nbytes[wide]
                hw = np.full(len(wide), FNV_BASIS, np.uint32)
                for b in range(int(len_w.max())):
                    live = np.flatnonzero(len_w > b)
                    hw[live] = (hw[live] ^ signed[at_w[live] + b]) * FNV_PRIME
                hashes[wide] = hw
            row = m.bucket_row[hashes % np.uint32(m.bucket)]
            kept = row >= 0
            owners.append(word_of_char[first[kept]])
            rows.append(row[kept])
        owner, row = np.concatenate(owners), np.concatenate(rows)
        grams = sp.csr_matrix((np.ones(len(row), np.float32), (owner, row)), shape=(n_words, len(m.input)))
        return np.asarray(grams @ m.input, dtype=np.float32), np.bincount(owner, minlength=n_words)


def _std_log(x: np.ndarray) -> np.ndarray:
    """fastText's `std::log(x + 1e-5)` of a float32, rounded back to float32."""
    return np.log(np.asarray(x, np.float64) + 1e-5).astype(np.float32)


_P = 0x100000001B3  # odd: it has an inverse modulo 2**64
_P_INV = _P
for _ in range(6):
    _P_INV = _P_INV * (2 - _P * _P_INV) % (1 << 64)
# (powers, inverse powers), replaced whole: threads running the stage side by side (inline) read
# one pair or the other, never a grown table beside a short one
_powers: tuple[np.ndarray, np.ndarray] = (np.ones(1, np.uint64), np.ones(1, np.uint64))
_powers_lock = threading.Lock()


def _power_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    global _powers
    powers, inverse = _powers
    if len(powers) < n:
        with _powers_lock:
            size = max(n, 1 << 18)
            if len(_powers[0]) < size:
                _powers = tuple(np.concatenate([np.ones(1, np.uint64), np.cumprod(np.full(size - 1, base, np.uint64))])
                                for base in (_P, _P_INV))
            powers, inverse = _powers
    return powers[:n], inverse[:n]


def word_keys(words: pa.Array) -> np.ndarray:
    """A 64-bit key per string: a polynomial hash of its bytes (prefix sums of b * P**i, shifted
    back to the string's start by the inverse powers), mixed with its length."""
    if len(words) > NEW_WORDS_AT_ONCE:  # the power tables grow with the bytes hashed at once
        return np.concatenate([word_keys(words.slice(i, NEW_WORDS_AT_ONCE))
                               for i in range(0, len(words), NEW_WORDS_AT_ONCE)])
    offsets, data = string_bytes(words)
    power, inverse = _power_tables(len(data) + 1)
    prefix = np.zeros(len(data) + 1, np.uint64)
    np.cumsum((data.astype(np.uint64) + np.uint64(1)) * power[:len(data)], out=prefix[1:])
    keys = (prefix[offsets[1:]] - prefix[offsets[:-1]]) * inverse[offsets[:-1]]
    return keys ^ (np.diff(offsets).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
