"""Every domain's models, imported so that ``Base.metadata`` is complete (for Alembic and tests)."""

from medipersona import quota as _quota  # noqa: F401  (usage_counters)
from medipersona.accounts import models as _accounts  # noqa: F401
from medipersona.admin import models as _admin  # noqa: F401
from medipersona.catalog import models as _catalog  # noqa: F401
from medipersona.competitors import models as _competitors  # noqa: F401
from medipersona.db import Base
from medipersona.interviews import models as _interviews  # noqa: F401
from medipersona.jobs import models as _jobs  # noqa: F401
from medipersona.keywords import models as _keywords  # noqa: F401
from medipersona.media import models as _media  # noqa: F401
from medipersona.message_tests import models as _message_tests  # noqa: F401
from medipersona.persona_sets import models as _persona_sets  # noqa: F401
from medipersona.personas import models as _personas  # noqa: F401

metadata = Base.metadata
