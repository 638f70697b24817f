"""Path-integral (and any other) MD with i-PI: a socket driver and an in-process PES.

Two routes, both evaluating the model in its own units with explicit conversions to i-PI's atomic units
(Bohr, Hartree; ``fastgdml.units`` gives the model's units in Angstrom and eV, ASE's constants convert):

- **Socket driver** (:func:`run_driver`, ``fastgdml ipi MODEL --unix NAME`` or ``--host H --port P``): a client
  of the i-PI socket protocol (``<ffsocket>`` in the i-PI input). One connection serves one geometry at a time,
  as the protocol has it; start several drivers for parallel beads. TCP connections set TCP_NODELAY (without it
  every small message waits for the peer's delayed ACK: 12x slower on 127.0.0.1).
- **In-process PES** (:class:`fastgdml.clients.ipi_pes.FastgdmlPES`, ``<ffdirect>`` with ``<pes>custom</pes>`` and
  ``<pes_path>`` from :func:`pes_path`): i-PI calls it with all beads of a step as one batch when
  ``<batch_size>`` is set, and the model predicts them in one call.

Molecular models ignore i-PI's cell (it always has one; run gas-phase systems without ``dopbc``) and report a zero
virial; periodic models (``lattice``) require i-PI's cell to be theirs and report the virial −dE/dε.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Optional, Sequence

import numpy as np

from ..geometry import same_lattice
from ..model import Model
from ..units import angstrom_per, ev_per

HEADER = 12  # bytes of every message name, space-padded


class IpiError(RuntimeError):
    """A geometry or connection that the model cannot serve (wrong atom count, another cell, a lost server)."""


class Units:
    """Factors between i-PI's atomic units and a model's units."""

    def __init__(self, model: Model, energy_unit: Optional[str] = None, length_unit: Optional[str] = None):
        bohr_per_length = angstrom_per(length_unit or model.r_unit or "Ang") / angstrom_per("bohr")
        hartree_per_energy = ev_per(energy_unit or model.e_unit or "kcal/mol") / ev_per("hartree")
        self.length = 1.0 / bohr_per_length       # model length units per Bohr
        self.energy = hartree_per_energy          # Hartree per model energy unit
        self.force = hartree_per_energy / bohr_per_length  # (Ha/Bohr) per (model energy / model length)


def evaluate(model: Model, units: Units, cells: Sequence[np.ndarray], positions: Sequence[np.ndarray]):
    """Potentials (Hartree), forces (Ha/Bohr, (N, 3) each) and virials (Hartree; zero for molecular models) of
    geometries in Bohr, in one batch.

    ``cells`` are i-PI's cell matrices h (lattice vectors as columns, Bohr). A periodic model checks them against
    its lattice.
    """
    N = model.n_atoms
    R = np.empty((len(positions), N, 3))
    for i, (h, pos) in enumerate(zip(cells, positions)):
        pos = np.asarray(pos, dtype=np.float64).reshape(-1, 3)
        if len(pos) != N:
            raise IpiError(f"i-PI sent {len(pos)} atoms but the model describes {N}; the i-PI input must hold the "
                           f"model's molecule in its atom order")
        if model.lattice is not None:
            h_model = np.asarray(h, dtype=np.float64).reshape(3, 3) * units.length
            if not same_lattice(h_model, model.lattice):
                raise IpiError(f"i-PI's cell {np.round(h_model, 6).tolist()} (model units, vectors as columns) is not "
                               f"the model's lattice {np.round(model.lattice, 6).tolist()}")
        R[i] = pos * units.length
    if model.lattice is None:  # a molecule: no cell to strain, no virial
        E, F = model.predict(R)
        return E * units.energy, F * units.force, np.zeros((len(R), 3, 3))
    E, F, W = model.predict(R, strain=True)
    return E * units.energy, F * units.force, -W * units.energy  # virial = -dE/dstrain (Hartree)


class _Wire:
    """Exact-length reads and writes on a connected socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def recv(self, nbytes: int) -> bytes:
        chunks, left = [], nbytes
        while left:
            chunk = self.sock.recv(left)
            if not chunk:
                raise ConnectionError("i-PI closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def message(self) -> str:
        return self.recv(HEADER).decode("ascii", "replace").strip()

    def array(self, count: int, dtype) -> np.ndarray:
        return np.frombuffer(self.recv(count * np.dtype(dtype).itemsize), dtype=dtype)

    def send(self, *parts) -> None:
        self.sock.sendall(b"".join(p if isinstance(p, bytes) else p.encode("ascii").ljust(HEADER) for p in parts))


def connect(unix: Optional[str] = None, host: Optional[str] = None, port: Optional[int] = None,
            wait: float = 60.0) -> socket.socket:
    """A socket connected to an i-PI server, retried for ``wait`` seconds while the server starts.

    ``unix``: i-PI's ``<address>`` of a ``mode='unix'`` socket (the file /tmp/ipi_NAME), or a path. ``host`` and
    ``port``: a ``mode='inet'`` socket.
    """
    if (unix is None) == (host is None):
        raise ValueError("give either a unix socket name or a host and port")
    if unix is not None:
        path = unix if os.sep in unix else f"/tmp/ipi_{unix}"
        family, address = socket.AF_UNIX, path
    else:
        family, address = socket.AF_INET, (host, int(port))
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.connect(address)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise IpiError(f"no i-PI server at {address} after {wait:g} s; start i-PI first (its input's "
                               f"<ffsocket> address must match)") from None
            time.sleep(0.1)
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def run_driver(model: Model, sock: socket.socket, energy_unit: Optional[str] = None,
               length_unit: Optional[str] = None, log=None) -> int:
    """Serve i-PI's requests on ``sock`` until it sends EXIT or closes the connection; the geometries served."""
    units = Units(model, energy_unit, length_unit)
    wire = _Wire(sock)
    state, served, result = "READY", 0, None
    try:
        while True:
            try:
                msg = wire.message()
            except ConnectionError:
                return served  # i-PI ends its clients by closing the socket as often as by EXIT
            if msg == "STATUS":
                wire.send(state)
            elif msg == "INIT":
                bead = wire.array(1, np.int32)[0]
                wire.recv(int(wire.array(1, np.int32)[0]))  # the init string: nothing for this driver
                if log:
                    log(f"serving bead {bead}")
                state = "READY"
            elif msg == "POSDATA":
                h = wire.array(9, np.float64).reshape(3, 3)  # vectors as columns, Bohr
                wire.recv(72)  # inverse cell
                nat = int(wire.array(1, np.int32)[0])
                pos = wire.array(3 * nat, np.float64).reshape(nat, 3)
                E, F, vir = evaluate(model, units, [h], [pos])
                result = (E[0], F[0], vir[0])
                state, served = "HAVEDATA", served + 1
            elif msg == "GETFORCE":
                if result is None:
                    raise IpiError("i-PI asked for forces before sending positions")
                pot, force, vir = result
                extra = b" "  # at least one byte: an empty string reads like a closed socket
                wire.send("FORCEREADY", np.float64(pot).tobytes(), np.int32(len(force)).tobytes(),
                          np.ascontiguousarray(force, dtype=np.float64).tobytes(), vir.T.astype(np.float64).tobytes(),
                          np.int32(len(extra)).tobytes(), extra)
                state, result = "READY", None
            elif msg == "EXIT":
                return served
            else:
                raise IpiError(f"unknown i-PI message {msg!r}")
    finally:
        sock.close()


def pes_path() -> str:
    """The file to name in i-PI's ``<ffdirect><pes>custom</pes><pes_path>...</pes_path>``
    (fastgdml/clients/ipi_pes.py)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "ipi_pes.py")

