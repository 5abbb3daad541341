"""The corrupt-repository corpus: named faults applied to copies of real git repositories.

Each ``Case`` copies a pristine base repository (``gitrepo.build_base``) and breaks it in
one way. It then states, for every object and every URL of the pristine repository, what a
correct reader must do:

- ``FAIL``: raise a ``GitError`` subclass (the data is gone or lies);
- ``PASS``: return git's exact bytes (nothing it depends on was touched);
- ``MAY``: either of the two (e.g. git itself refuses a pack whose trailer is wrong, another
  reader may still read its intact entries) - but never wrong bytes, never another error.

Rules:
1. The faults are made from real git output: offsets come from ``git verify-pack -v``, and
   hand-written packs (cycles, bombs) use ``packwriter`` with correct checksums so that each
   case differs from a valid repository in exactly the fault it names.
2. States propagate along delta chains: an object whose base is FAIL is FAIL (MAY -> MAY).
3. ``corrupt=False`` marks a hostile-but-valid case (a 5000-deep chain) that
   ``packserve check`` must not report as damage.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from tests.faults.gitrepo import FAULT_FILES, BaseRepo, deep_chain_contents
from tests.packwriter import (
    OBJ_BLOB,
    OBJ_OFS_DELTA,
    OBJ_REF_DELTA,
    RawEntry,
    copy_op,
    delta,
    digest,
    insert_ops,
    object_id,
    rehash_trailer,
    write_idx_v2,
    write_pack,
)


class State(IntEnum):
    """What a correct reader must do with an object or URL; ordered by severity."""

    PASS = 0
    MAY = 1
    FAIL = 2


@dataclass
class Damage:
    """What a mutation did: explicit object and ref states (everything else is PASS)."""

    objects: dict[str, State] = field(default_factory=dict)
    refs: dict[str, State] = field(default_factory=dict)  # URL ref spelling -> state
    extra_urls: dict[str, str] = field(default_factory=dict)  # URL -> blob hex, always FAIL
    # Damage that OFS_DELTA dependents do not inherit: they find their base by pack offset,
    # not through the (damaged) idx.
    idx_only: set[str] = field(default_factory=set)

    def mark(self, hex_ids: Iterable[str], state: State) -> None:
        """Raise the state of each id to at least ``state``."""
        for hex_id in hex_ids:
            self.objects[hex_id] = max(self.objects.get(hex_id, State.PASS), state)


Mutation = Callable[[BaseRepo, Path, Damage], None]


@dataclass(frozen=True)
class Case:
    """One named fault."""

    name: str
    base: str  # which base repository: "deltas", "nodelta", "loose", "sha256" (deltas)
    mutate: Mutation
    corrupt: bool = True  # packserve check must report it
    # The whole ref store is unreadable, so a health check may rightly say "unhealthy".
    breaks_refs: bool = False


@dataclass
class Corrupted:
    """A materialised case: the broken copy and the expected outcome of every read."""

    case: Case
    base: BaseRepo
    root: Path
    objects: dict[str, State]
    urls: dict[str, State]

    def by_state(self, state: State) -> list[str]:
        """Object hex ids in ``state``, sorted."""
        return sorted(h for h, s in self.objects.items() if s == state)

    def urls_by_state(self, state: State) -> list[str]:
        """URL paths in ``state``, sorted."""
        return sorted(u for u, s in self.urls.items() if s == state)


def materialize(case: Case, base: BaseRepo, dest: Path) -> Corrupted:
    """Copy ``base`` to ``dest``, apply the case, and compute every expected state."""
    shutil.copytree(base.root, dest, symlinks=True)
    damage = Damage()
    case.mutate(base, dest, damage)
    objects = {hex_id: damage.objects.get(hex_id, State.PASS) for hex_id in base.objects}
    for hex_id in objects:
        chain, seen = hex_id, set()
        while (parent := base.base_of(chain)) is not None and parent not in seen:
            seen.add(parent)
            if parent not in damage.idx_only:
                objects[hex_id] = max(objects[hex_id], damage.objects.get(parent, State.PASS))
            chain = parent
    urls: dict[str, State] = {}
    for url, facts in base.urls.items():
        state = max([damage.refs.get(facts.ref, State.PASS)] + [objects[h] for h in facts.must])
        if any(objects[h] != State.PASS for h in facts.may):
            state = max(state, State.MAY)
        urls[url] = state
    for url in damage.extra_urls:
        urls[url] = State.FAIL
    return Corrupted(case, base, dest, objects, urls)


# -- helpers -------------------------------------------------------------------------------


def _only_pack(base: BaseRepo) -> str:
    """The largest pack (pack A in the ``deltas`` repository)."""
    return max(base.packs.values(), key=lambda p: len(p.entries)).name


def _flip_zlib(base: BaseRepo, root: Path, hex_id: str) -> None:
    """XOR three bytes in the middle of the object's zlib stream (clear of the Adler-32)."""
    found = base.where(hex_id)
    if found is None:
        raise ValueError(f"{hex_id} is not packed")
    name, layout = found
    path = base.pack_path(name, "pack", root)
    data = bytearray(path.read_bytes())
    stream_len = layout.end - layout.zlib_start
    if stream_len < 12:
        raise ValueError(f"{hex_id}: zlib stream too short to corrupt safely")
    middle = layout.zlib_start + 2 + (stream_len - 6) // 2
    for i in range(3):
        data[middle + i] ^= 0x55
    path.write_bytes(bytes(data))


def _pick(base: BaseRepo, type_name: str, *, delta: bool, with_dependents: bool = False) -> str:
    """A packed object of ``type_name``, stored whole or as a delta, used by some URL."""
    used = set().union(*(u.must for u in base.urls.values()))
    bases = {b for p in base.packs.values() for b in p.bases.values()}
    # A delta base makes the case test propagation; a pack without deltas has none.
    with_dependents = with_dependents and bool(bases)
    pack = base.packs[_only_pack(base)]
    candidates = sorted(
        hex_id
        for hex_id, layout in pack.entries.items()
        if base.objects[hex_id][0] == type_name
        and (hex_id in pack.bases) == delta
        and hex_id in used
        and layout.raw_len - layout.header_len >= 24
        and (not with_dependents or hex_id in bases)
    )
    if not candidates:
        raise ValueError(f"no packed {type_name} (delta={delta}) in {base.name}")
    return candidates[len(candidates) // 2]


def _pack_objects(base: BaseRepo, name: str) -> list[str]:
    return list(base.packs[name].entries)


def _add_pack(base: BaseRepo, root: Path, entries: list[RawEntry]) -> None:
    """Write a hand-made pack and its idx into ``root``; drop loose copies of its objects."""
    pack = write_pack(entries, base.hash_len)
    name = f"pack-{pack.checksum.hex()}"
    pack_dir = root / ".git" / "objects" / "pack"
    (pack_dir / f"{name}.pack").write_bytes(pack.data)
    (pack_dir / f"{name}.idx").write_bytes(write_idx_v2(pack, base.hash_len))
    for oid in pack.oids:
        loose = root / ".git" / "objects" / oid.hex()[:2] / oid.hex()[2:]
        loose.unlink(missing_ok=True)


def _fault_blob(base: BaseRepo, name: str) -> tuple[bytes, bytes]:
    """(raw id, content) of a ``faults/<name>`` blob."""
    content = FAULT_FILES[name]
    return object_id("blob", content, base.hash_len), content


def _largest_blob(base: BaseRepo) -> tuple[bytes, bytes]:
    hex_id = max(
        (h for h, (t, _) in base.objects.items() if t == "blob"),
        key=lambda h: len(base.objects[h][1]),
    )
    return bytes.fromhex(hex_id), base.objects[hex_id][1]


# -- mutations -----------------------------------------------------------------------------


def truncated_pack(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Cut pack A at 60%: entries past the cut are gone; the rest depends on the reader."""
    name = _only_pack(base)
    path = base.pack_path(name, "pack", root)
    cut = base.packs[name].size * 6 // 10
    path.write_bytes(path.read_bytes()[:cut])
    for hex_id, layout in base.packs[name].entries.items():
        damage.mark([hex_id], State.FAIL if layout.end > cut else State.MAY)


def truncated_idx(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Cut pack A's idx in half: its offset table is gone, so none of its objects is found."""
    name = _only_pack(base)
    path = base.pack_path(name, "idx", root)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    damage.mark(_pack_objects(base, name), State.FAIL)


def bad_fanout(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Make fan-out entry k exceed the object count (non-monotonic); checksum recomputed.

    Objects in bucket k+1 get an empty (inverted) search range, so they must not be found;
    git rejects the whole index, so everything else in the pack is MAY.
    """
    name = _only_pack(base)
    path = base.pack_path(name, "idx", root)
    data = bytearray(path.read_bytes())
    objects = sorted(_pack_objects(base, name))
    first_bytes = sorted({int(h[:2], 16) for h in objects if int(h[:2], 16) > 0})
    target = first_bytes[len(first_bytes) // 2]
    k = target - 1
    struct.pack_into(">I", data, 8 + 4 * k, 0xFFFFFF00)
    path.write_bytes(rehash_trailer(data, base.hash_len))
    damage.mark(objects, State.MAY)
    damage.mark([h for h in objects if int(h[:2], 16) == target], State.FAIL)


def _idx_position(base: BaseRepo, name: str, hex_id: str) -> tuple[int, int]:
    """(sorted position, object count) of ``hex_id`` in its v2 idx."""
    ordered = sorted(base.packs[name].entries)
    return ordered.index(hex_id), len(ordered)


def offset_past_end(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Point one whole blob's idx offset past the end of the pack (checksum recomputed)."""
    name = _only_pack(base)
    victim = _pick(base, "blob", delta=False, with_dependents=True)
    pos, count = _idx_position(base, name, victim)
    path = base.pack_path(name, "idx", root)
    data = bytearray(path.read_bytes())
    offsets_at = 8 + 1024 + count * (base.hash_len + 4)
    struct.pack_into(">I", data, offsets_at + 4 * pos, base.packs[name].size + 4096)
    path.write_bytes(rehash_trailer(data, base.hash_len))
    # Pack order (entry extents) is derived from the offsets, so every neighbour is MAY.
    damage.mark(_pack_objects(base, name), State.MAY)
    damage.mark([victim], State.FAIL)
    damage.idx_only.add(victim)


def _zlib_case(type_name: str, delta_entry: bool = False) -> Mutation:
    def mutate(base: BaseRepo, root: Path, damage: Damage) -> None:
        # A blob that other entries are deltas of also tests propagation along chains.
        dependents = type_name == "blob" and not delta_entry
        victim = _pick(base, type_name, delta=delta_entry, with_dependents=dependents)
        _flip_zlib(base, root, victim)
        damage.mark([victim], State.FAIL)

    mutate.__doc__ = f"Flip bytes inside the zlib stream of a packed {type_name}."
    return mutate


def idx_crc_mismatch(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Change one blob's CRC-32 in the idx (checksum recomputed): only verification sees it."""
    name = _only_pack(base)
    victim = _pick(base, "blob", delta=False)
    pos, count = _idx_position(base, name, victim)
    path = base.pack_path(name, "idx", root)
    data = bytearray(path.read_bytes())
    crc_at = 8 + 1024 + count * base.hash_len + 4 * pos
    data[crc_at] ^= 0xFF
    path.write_bytes(rehash_trailer(data, base.hash_len))
    damage.mark([victim], State.MAY)


def rev_disagrees(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Swap two adjacent positions in pack A's ``.rev`` (checksum recomputed)."""
    name = _only_pack(base)
    path = base.pack_path(name, "rev", root)
    data = bytearray(path.read_bytes())
    count = len(base.packs[name].entries)
    i = 12 + 4 * (count // 2)
    data[i : i + 8] = data[i + 4 : i + 8] + data[i : i + 4]
    path.write_bytes(rehash_trailer(data, base.hash_len))
    damage.mark(_pack_objects(base, name), State.MAY)


def pack_trailer(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Flip the last byte of the pack trailer: git refuses the pack as not matching its idx."""
    name = _only_pack(base)
    path = base.pack_path(name, "pack", root)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    damage.mark(_pack_objects(base, name), State.MAY)


def delta_cycle(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Two REF_DELTA entries, each the other's base."""
    x_id, x = _fault_blob(base, "cycle-x.txt")
    y_id, y = _fault_blob(base, "cycle-y.txt")
    _add_pack(
        base,
        root,
        [
            RawEntry(x_id, OBJ_REF_DELTA, delta(len(y), len(x), insert_ops(x)), base=y_id),
            RawEntry(y_id, OBJ_REF_DELTA, delta(len(x), len(y), insert_ops(y)), base=x_id),
        ],
    )
    damage.mark([x_id.hex(), y_id.hex()], State.FAIL)


def delta_self(base: BaseRepo, root: Path, damage: Damage) -> None:
    """A REF_DELTA based on its own id and an OFS_DELTA at distance 0."""
    r_id, r = _fault_blob(base, "self-ref.txt")
    o_id, o = _fault_blob(base, "self-ofs.txt")
    _add_pack(
        base,
        root,
        [
            RawEntry(r_id, OBJ_REF_DELTA, delta(len(r), len(r), insert_ops(r)), base=r_id),
            RawEntry(o_id, OBJ_OFS_DELTA, delta(len(o), len(o), insert_ops(o)), base=1),
        ],
    )
    damage.mark([r_id.hex(), o_id.hex()], State.FAIL)


def delta_bomb(base: BaseRepo, root: Path, damage: Damage) -> None:
    """A 64 KiB delta of 65536 one-byte copy instructions claiming a 4 GiB result."""
    b_id, _ = _fault_blob(base, "bomb.bin")
    base_id, base_data = _largest_blob(base)
    if len(base_data) < 0x10000:
        raise ValueError("the bomb needs a base of at least 64 KiB")
    payload = delta(len(base_data), 1 << 32, copy_op(0, 0x10000) * 65536)
    _add_pack(base, root, [RawEntry(b_id, OBJ_REF_DELTA, payload, base=base_id)])
    damage.mark([b_id.hex()], State.FAIL)


def huge_declared_size(base: BaseRepo, root: Path, damage: Damage) -> None:
    """A whole blob entry whose header declares 4 GiB for a few bytes of zlib."""
    b_id, content = _fault_blob(base, "bomb.bin")
    _add_pack(base, root, [RawEntry(b_id, OBJ_BLOB, content, size=1 << 32)])
    damage.mark([b_id.hex()], State.FAIL)


def missing_base(base: BaseRepo, root: Path, damage: Damage) -> None:
    """A REF_DELTA whose base id is in no pack and not loose."""
    m_id, m = _fault_blob(base, "missing-base.txt")
    ghost = digest(b"no such object", base.hash_len)
    _add_pack(
        base, root, [RawEntry(m_id, OBJ_REF_DELTA, delta(10, len(m), insert_ops(m)), base=ghost)]
    )
    damage.mark([m_id.hex()], State.FAIL)


def bad_delta_ops(base: BaseRepo, root: Path, damage: Damage) -> None:
    """A copy past the end of its base, and the reserved opcode 0."""
    c_id, c = _fault_blob(base, "copy-oob.txt")
    z_id, z = _fault_blob(base, "opcode-zero.txt")
    readme = next(h for h, (t, d) in base.objects.items() if d.startswith(b"# fixture"))
    readme_len = len(base.objects[readme][1])
    _add_pack(
        base,
        root,
        [
            RawEntry(
                c_id,
                OBJ_REF_DELTA,
                delta(readme_len, len(c), copy_op(readme_len - 4, len(c))),
                base=bytes.fromhex(readme),
            ),
            RawEntry(
                z_id,
                OBJ_REF_DELTA,
                delta(readme_len, len(z), b"\x00" + insert_ops(z)),
                base=bytes.fromhex(readme),
            ),
        ],
    )
    damage.mark([c_id.hex(), z_id.hex()], State.FAIL)


def deep_chain(base: BaseRepo, root: Path, damage: Damage) -> None:
    """A valid 5000-deep OFS_DELTA chain (git's own cap is 4095): resolve it or refuse it."""
    levels = deep_chain_contents()
    entries = [RawEntry(object_id("blob", levels[0], base.hash_len), OBJ_BLOB, levels[0])]
    for depth in range(1, len(levels)):
        prev, cur = levels[depth - 1], levels[depth]
        ops = copy_op(0, len(prev)) + insert_ops(cur[len(prev) :])
        entries.append(
            RawEntry(
                object_id("blob", cur, base.hash_len),
                OBJ_OFS_DELTA,
                delta(len(prev), len(cur), ops),
                base=depth - 1,
            )
        )
    _add_pack(base, root, entries)
    damage.mark([entries[-1].oid.hex()], State.MAY)


def garbage_packed_refs(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Replace ``packed-refs`` with garbage: refs that lived only there cannot resolve."""
    (root / ".git" / "packed-refs").write_bytes(
        b"# pack-refs with: peeled fully-peeled sorted \n"
        b"zzzz refs/heads/broken\n\x00\xff\xfe garbage\n^\n"
        + b"0" * 39
        + b" refs/heads/short\n"
        + b"\n" * 3
        + bytes(range(256))
        + b"\n"
    )
    for name, commit in base.refs.items():
        short = name.removeprefix("refs/heads/").removeprefix("refs/tags/")
        state = State.MAY if name in base.loose_refs else State.FAIL
        damage.refs[short] = state
        damage.refs[commit] = State.MAY  # full ids may need the ref list for prefix checks
    damage.refs["HEAD"] = State.MAY


def symref_loop(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Two branches that are symbolic refs to each other, and one to itself."""
    heads = root / ".git" / "refs" / "heads"
    (heads / "loop-a").write_text("ref: refs/heads/loop-b\n")
    (heads / "loop-b").write_text("ref: refs/heads/loop-a\n")
    (heads / "loop-self").write_text("ref: refs/heads/loop-self\n")
    readme = base.urls["main/README.md"].blob
    for ref in ("loop-a", "loop-b", "loop-self"):
        damage.extra_urls[f"{ref}/README.md"] = readme
        damage.refs[ref] = State.FAIL


def _loose_path(root: Path, hex_id: str) -> Path:
    return root / ".git" / "objects" / hex_id[:2] / hex_id[2:]


def _loose_blob(base: BaseRepo) -> str:
    used = set().union(*(u.must for u in base.urls.values()))
    return sorted(
        h
        for h in base.loose
        if base.objects[h][0] == "blob" and h in used and len(base.objects[h][1]) > 200
    )[0]


def loose_zlib(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Flip bytes in the middle of a loose blob's zlib stream."""
    victim = _loose_blob(base)
    path = _loose_path(root, victim)
    data = bytearray(path.read_bytes())
    for i in range(3):
        data[len(data) // 2 + i] ^= 0x55
    path.write_bytes(bytes(data))
    damage.mark([victim], State.FAIL)


def loose_truncated(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Cut a loose blob's file in half."""
    victim = _loose_blob(base)
    path = _loose_path(root, victim)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    damage.mark([victim], State.FAIL)


def loose_huge_header(base: BaseRepo, root: Path, damage: Damage) -> None:
    """A loose blob whose header claims 4 GiB in front of its real (small) content."""
    victim = _loose_blob(base)
    content = base.objects[victim][1]
    _loose_path(root, victim).write_bytes(zlib.compress(b"blob 4294967296\0" + content))
    damage.mark([victim], State.FAIL)


def loose_commit_zlib(base: BaseRepo, root: Path, damage: Damage) -> None:
    """Flip bytes in a loose commit (the ``faults`` branch tip)."""
    victim = base.refs["refs/heads/faults"]
    path = _loose_path(root, victim)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    damage.mark([victim], State.FAIL)


CASES: tuple[Case, ...] = (
    Case("truncated-pack", "deltas", truncated_pack),
    Case("truncated-idx", "deltas", truncated_idx),
    Case("bad-fanout", "deltas", bad_fanout),
    Case("offset-past-end", "deltas", offset_past_end),
    Case("zlib-blob", "deltas", _zlib_case("blob")),
    Case("zlib-tree", "deltas", _zlib_case("tree")),
    Case("zlib-commit", "deltas", _zlib_case("commit")),
    Case("zlib-delta-entry", "deltas", _zlib_case("blob", delta_entry=True)),
    Case("idx-crc-mismatch", "deltas", idx_crc_mismatch),
    Case("rev-disagrees", "deltas", rev_disagrees),
    Case("delta-cycle", "deltas", delta_cycle),
    Case("delta-self", "deltas", delta_self),
    Case("delta-bomb-4gib", "deltas", delta_bomb),
    Case("huge-declared-size", "deltas", huge_declared_size),
    Case("ref-delta-missing-base", "deltas", missing_base),
    Case("bad-delta-ops", "deltas", bad_delta_ops),
    Case("deep-chain-5000", "deltas", deep_chain, corrupt=False),
    Case("garbage-packed-refs", "deltas", garbage_packed_refs, breaks_refs=True),
    Case("symref-loop", "deltas", symref_loop),
    Case("nodelta-truncated-pack", "nodelta", truncated_pack),
    Case("nodelta-zlib-blob", "nodelta", _zlib_case("blob")),
    Case("nodelta-pack-trailer", "nodelta", pack_trailer),
    Case("nodelta-truncated-idx", "nodelta", truncated_idx),
    Case("loose-zlib", "loose", loose_zlib),
    Case("loose-truncated", "loose", loose_truncated),
    Case("loose-huge-header", "loose", loose_huge_header),
    Case("loose-commit-zlib", "loose", loose_commit_zlib),
    Case("sha256-zlib-blob", "sha256", _zlib_case("blob")),
    Case("sha256-truncated-idx", "sha256", truncated_idx),
    Case("sha256-idx-crc-mismatch", "sha256", idx_crc_mismatch),
    Case("sha256-delta-cycle", "sha256", delta_cycle),
    Case("sha256-offset-past-end", "sha256", offset_past_end),
)
CASES_BY_NAME = {case.name: case for case in CASES}
