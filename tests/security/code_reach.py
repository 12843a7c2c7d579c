"""Which deployed functions can reach a piece of code, read from the source (no imports run).

A call graph over the `stratus` package, by name: a function's edges are every function, class
and method it names (called or passed along, as `functools.partial(self._write)` or
`Depends(get_stores)` do), resolved through the imports of its module (lazy ones inside functions
included) and through `self.`/`cls.` to its own class. Naming a class reaches all its methods, and
reaching anything in a module reaches the module's top-level code. This over-approximates (it
never misses a call it can name), which is the safe side for "which functions may need this".

A Lambda function's entry points are what its `app.py` imports from `stratus`, and, for an HTTP
operation (`http_handler("search")`), everything in that operation's router module (the router is
loaded by name at run time, where no import statement shows it).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

Node = tuple[str, str]  # (module, "function" | "Class" | "Class.method" | MODULE_CODE)
MODULE_CODE = "<module>"


@dataclass
class _Module:
    name: str
    tree: ast.Module
    # local name -> (module, attribute) for `from m import a`, or (module, "") for a module alias
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    # node name -> its body, for every function, class and method defined at the top
    bodies: dict[str, ast.AST] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)


class CallGraph:
    def __init__(self, package_dir: Path, package: str = "stratus") -> None:
        self._modules: dict[str, _Module] = {}
        for path in sorted(package_dir.rglob("*.py")):
            parts = path.relative_to(package_dir.parent).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            self._modules[name] = self._read(name, ast.parse(path.read_text(encoding="utf-8")))
        self._package = package

    # -- reading ---------------------------------------------------------------------------------

    def _read(self, name: str, tree: ast.Module) -> _Module:
        module = _Module(name, tree)
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                module.bodies[statement.name] = statement
            elif isinstance(statement, ast.ClassDef):
                module.bodies[statement.name] = statement
                methods = [
                    item.name
                    for item in statement.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                ]
                module.classes[statement.name] = methods
                for item in statement.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        module.bodies[f"{statement.name}.{item.name}"] = item
        return module

    def _bind_imports(self, module: _Module) -> None:
        package = module.name.rsplit(".", 1)[0]
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        module.imports[alias.asname] = (alias.name, "")
                    else:
                        top = alias.name.split(".", 1)[0]
                        module.imports[top] = (top, "")
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    source = f"{base}.{source}" if source else base
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    target = (submodule, "") if submodule in self._modules else (source, alias.name)
                    module.imports[alias.asname or alias.name] = target

    @cached_property
    def _edges(self) -> dict[Node, set[Node]]:
        for module in self._modules.values():
            self._bind_imports(module)
        edges: dict[Node, set[Node]] = {}
        for module in self._modules.values():
            top_level = [
                s
                for s in module.tree.body
                if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            ]
            edges[(module.name, MODULE_CODE)] = self._named(module, None, top_level)
            for name, body in module.bodies.items():
                owner = name.split(".", 1)[0] if "." in name else None
                targets = self._named(module, owner, [body])
                if name in module.classes:  # a class reaches its methods (and its class body)
                    targets |= {(module.name, f"{name}.{method}") for method in module.classes[name]}
                edges[(module.name, name)] = targets
        return edges

    def _named(self, module: _Module, owner: str | None, statements: Sequence[ast.AST]) -> set[Node]:
        found: set[Node] = set()
        for statement in statements:
            for node in ast.walk(statement):
                target: Node | None = None
                if isinstance(node, ast.Name):
                    target = self._resolve(module, node.id)
                elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    base = node.value.id
                    if base in ("self", "cls") and owner is not None:
                        target = (module.name, f"{owner}.{node.attr}")
                    else:
                        resolved = module.imports.get(base)
                        if resolved is not None and resolved[1] == "":
                            target = self._in_module(resolved[0], node.attr)
                if target is not None and (target in self._known or target[1] == MODULE_CODE):
                    found.add(target)
        return found

    def _resolve(self, module: _Module, name: str) -> Node | None:
        if name in module.bodies:
            return (module.name, name)
        imported = module.imports.get(name)
        if imported is None:
            return None
        source, attribute = imported
        return (source, MODULE_CODE) if attribute == "" else self._in_module(source, attribute)

    def _in_module(self, source: str, attribute: str) -> Node:
        submodule = f"{source}.{attribute}"
        if submodule in self._modules:
            return (submodule, MODULE_CODE)
        target = self._modules.get(source)
        if target is not None and attribute not in target.bodies and attribute in target.imports:
            # Re-exported (`from stratus.ports import Stores` where ports imports it): follow it.
            resolved = self._resolve(target, attribute)
            if resolved is not None:
                return resolved
        return (source, attribute)

    @cached_property
    def _known(self) -> set[Node]:
        return {(m.name, name) for m in self._modules.values() for name in m.bodies}

    # -- questions ---------------------------------------------------------------------------------

    def module_nodes(self, module: str) -> list[Node]:
        found = self._modules.get(module)
        if found is None:
            return []
        return [(module, MODULE_CODE), *((module, name) for name in found.bodies)]

    def reachable(self, starts: Iterable[Node]) -> set[Node]:
        seen: set[Node] = set()
        todo = list(starts)
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo.extend(self._edges.get(node, ()))
            todo.append((node[0], MODULE_CODE))
        return seen

    def nodes_where(self, predicate: Callable[[ast.AST], bool]) -> set[Node]:
        """The functions and methods whose body (nested definitions included) has a matching node."""
        return {
            (module.name, name)
            for module in self._modules.values()
            for name, body in module.bodies.items()
            if name not in module.classes and any(predicate(node) for node in ast.walk(body))
        }


def reads_embedders(node: ast.AST) -> bool:
    """`stores.embedders`, `self._stores.embedders`: a registry of inference services in use (a
    definition of the `embedders` property, or `self.embedders` inside its class, is not)."""
    if not (isinstance(node, ast.Attribute) and node.attr == "embedders"):
        return False
    return not (isinstance(node.value, ast.Name) and node.value.id == "self")


def counts_filter_usage(node: ast.AST) -> bool:
    """A mention of `record_search_usage`: the code that adds to the filter-usage counters."""
    if isinstance(node, ast.Name):
        return node.id == "record_search_usage"
    return isinstance(node, ast.Attribute) and node.attr == "record_search_usage"


def entry_points(app_file: Path, graph: CallGraph, router_modules: dict[str, str]) -> list[Node]:
    """What a Lambda function's `app.py` starts from (see the module docstring)."""
    tree = ast.parse(app_file.read_text(encoding="utf-8"))
    starts: list[Node] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stratus"):
            starts.extend((node.module, alias.name) for alias in node.names)
            starts.append((node.module, MODULE_CODE))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in router_modules:
            starts.extend(graph.module_nodes(router_modules[node.value]))
    return starts
