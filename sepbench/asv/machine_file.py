"""``python -m sepbench.asv.machine_file NAME [RESULTS_DIR]``: record this machine for ASV under NAME.

Writes every fact of :func:`sepbench.asv.history.machine_facts` into ASV's machine file
(``~/.asv-machine.json``) with ASV's own API; ``asv machine --yes`` would leave out the facts equal to
its guesses (arch, CPU count), and a results folder's ``machine.json`` would lack them.  With
RESULTS_DIR, also (re)writes ``RESULTS_DIR/NAME/machine.json`` as ``asv run`` does.  Needs ``asv``.
"""

from __future__ import annotations

import sys

from sepbench.asv.history import machine_facts


def save_machine(name: str, results_dir: str | None = None) -> dict[str, str]:
    """Save the machine under ``name`` in ASV's machine file (and ``results_dir``); returns its facts."""
    from asv.machine import Machine, MachineCollection

    facts = machine_facts(name)
    MachineCollection.save(name, facts)
    if results_dir:
        Machine.load(machine_name=name).save(results_dir)
    return facts


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print("usage: python -m sepbench.asv.machine_file NAME [RESULTS_DIR]", file=sys.stderr)
        return 2
    facts = save_machine(*argv)
    print(f"ASV machine {facts['machine']}: {facts['cpu']}, {facts['num_cpu']} cores, {facts.get('ram', '? MB')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
