"""Divisible spaces: a space with children is held by holding every leaf beneath it."""

from collections.abc import Mapping


def leaves(root_id: int, parent_of: Mapping[int, int | None]) -> list[int]:
    """Leaf ids of the subtree rooted at ``root_id``; ``parent_of`` covers that subtree."""
    children: dict[int, list[int]] = {}
    for space_id, parent_id in parent_of.items():
        if parent_id is not None:
            children.setdefault(parent_id, []).append(space_id)
    found: list[int] = []
    stack = [root_id]
    while stack:
        space_id = stack.pop()
        below = children.get(space_id)
        if below:
            stack.extend(below)
        else:
            found.append(space_id)
    return sorted(found)
