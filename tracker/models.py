"""Import every feature's models, so metadata and migrations see the whole schema."""

from tracker.actions.models import *  # noqa: F403
from tracker.activity.models import *  # noqa: F403
from tracker.audits.models import *  # noqa: F403
from tracker.auth.models import *  # noqa: F403
from tracker.library.models import *  # noqa: F403
from tracker.notifications.models import *  # noqa: F403
from tracker.reports.models import *  # noqa: F403
from tracker.signals.models import *  # noqa: F403
