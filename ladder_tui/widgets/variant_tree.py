"""The variant tree, growing as the engine generates variants, each node coloured by solve rate."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ladder_tui.state import Variant

SHORT = {"easier": "easier", "equivalent": "equiv", "root": "problem"}


class VariantTree(Tree[str]):
    """Nodes carry the variant id; the screen looks the rest up in its RunState."""

    def __init__(self, **kwargs) -> None:
        super().__init__("variants", **kwargs)
        self.show_root = False
        self._by_id: dict[str, TreeNode[str]] = {}
        self._variants: dict[str, Variant] = {}
        self._stale: set[str] = set()  # hidden nodes whose label is out of date

    def reset(self) -> None:
        self.clear()
        self._by_id.clear()
        self._variants.clear()
        self._stale.clear()

    def _colour(self, rate: float | None) -> str:
        # Theme colours rather than fixed ones, so every theme keeps the meaning readable.
        variables = self.app.theme_variables
        if rate is None:
            return variables.get("text-muted", "grey50")
        if rate >= 0.5:
            return variables.get("success", "green")
        if rate > 0:
            return variables.get("warning", "yellow")
        return variables.get("error", "red")

    def _label(self, v: Variant) -> Text:
        label = Text()
        label.append(v.integrand, style=self._colour(v.rate))
        meta = f"  d{v.depth} {SHORT.get(v.kind, v.kind)}"
        if v.source:
            meta += f" {v.source}"
        label.append(meta, style="dim")
        if v.attempts:
            label.append(f"  {v.solved}/{v.attempts}", style=self._colour(v.rate))
        return label

    def add_variants(self, variants: list[Variant]) -> None:
        for v in variants:
            parent = self._by_id.get(v.parent or "", self.root)
            node = parent.add(self._label(v), data=v.id, expand=v.depth < 1)
            self._by_id[v.id] = node
            self._variants[v.id] = v
            parent.allow_expand = True

    def update_variants(self, variants: list[Variant]) -> None:
        """Relabel the visible nodes now; hidden ones when their parent is expanded."""
        for v in variants:
            node = self._by_id.get(v.id)
            if node is None:
                continue
            if self._visible(node):
                node.set_label(self._label(v))
                self._stale.discard(v.id)
            else:
                self._stale.add(v.id)

    @staticmethod
    def _visible(node: TreeNode[str]) -> bool:
        parent = node.parent
        while parent is not None and not parent.is_root:
            if not parent.is_expanded:
                return False
            parent = parent.parent
        return True

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        for child in event.node.children:
            if child.data in self._stale:
                child.set_label(self._label(self._variants[child.data]))
                self._stale.discard(child.data)
