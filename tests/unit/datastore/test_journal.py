"""Every journaled change is undone exactly, in any combination."""

from __future__ import annotations

import random

from lxml import etree

from agent.datastore.journal import Journal


def tree() -> etree._Element:
    return etree.fromstring("<r><a><x>1</x><y>2</y></a><b/><c><z/></c></r>")


def test_each_step_undone() -> None:
    root = tree()
    before = etree.tostring(root)
    j = Journal()
    a, b, c = root
    j.append(b, etree.Element("new"))
    j.add_before(a, etree.Element("first"))
    j.add_after(c, etree.Element("last"))
    j.remove(a, a[0])
    j.replace(c, c[0], etree.Element("z2"))
    j.add_before(b, c)  # a move
    assert etree.tostring(root) != before
    j.undo()
    assert etree.tostring(root) == before
    assert len(j) == 0


def test_random_sequences_undo_to_start() -> None:
    rng = random.Random(7)
    for _ in range(200):
        root = tree()
        before = etree.tostring(root)
        j = Journal()
        for _ in range(rng.randint(1, 12)):
            nodes = [n for n in root.iter() if n is not root]
            if not nodes:
                break
            target = rng.choice(nodes)
            parent = target.getparent()
            op = rng.randrange(4)
            if op == 0:
                j.append(target, etree.Element("n"))
            elif op == 1 and parent is not None:
                j.remove(parent, target)
            elif op == 2 and parent is not None:
                j.replace(parent, target, etree.Element("m"))
            elif op == 3:
                j.add_after(target, etree.Element("k"))
        j.undo()
        assert etree.tostring(root) == before
