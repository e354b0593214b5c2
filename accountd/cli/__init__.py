"""Command-line interface. Each module adds its commands to :data:`main`."""

from accountd.cli import activations as _activations  # noqa: F401  (`generate activation`, `revocations …-activation…`)
from accountd.cli import add as _add  # noqa: F401  (registers `add`)
from accountd.cli import delete as _delete  # noqa: F401  (registers `delete`)
from accountd.cli import describe as _describe  # noqa: F401  (registers `describe`)
from accountd.cli import dev as _dev  # noqa: F401  (registers `dev`)
from accountd.cli import edit as _edit  # noqa: F401  (registers `edit`)
from accountd.cli import env as _env  # noqa: F401  (registers `env`)
from accountd.cli import exports as _exports  # noqa: F401  (registers `add|edit|delete export`)
from accountd.cli import fleet as _fleet  # noqa: F401  (registers `fleet`)
from accountd.cli import generate as _generate  # noqa: F401  (registers `generate`)
from accountd.cli import history as _history  # noqa: F401  (registers `history`, `diff`, `rollback`)
from accountd.cli import importing as _importing  # noqa: F401  (registers `import`)
from accountd.cli import imports as _imports  # noqa: F401  (registers `add import`, `delete import`)
from accountd.cli import listing as _listing  # noqa: F401  (registers `list`)
from accountd.cli import mappings as _mappings  # noqa: F401  (registers `add mapping`, `delete mapping`)
from accountd.cli import monitor as _monitor  # noqa: F401  (registers `events`, `servers`)
from accountd.cli import pull as _pull  # noqa: F401  (registers `pull`)
from accountd.cli import push as _push  # noqa: F401  (registers `push`)
from accountd.cli import resolver as _resolver  # noqa: F401  (registers `resolver`)
from accountd.cli import revocations as _revocations  # noqa: F401  (registers `revocations`)
from accountd.cli import serve as _serve  # noqa: F401  (registers `serve`)
from accountd.cli import top as _top  # noqa: F401  (registers `top`)
from accountd.cli import transfer as _transfer  # noqa: F401  (registers `import dir`, `export dir`)
from accountd.cli import validate as _validate  # noqa: F401  (registers `validate`)
from accountd.cli.root import main

__all__ = ["main"]
