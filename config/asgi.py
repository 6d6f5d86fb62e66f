"""ASGI entry point: HTTP through Django; WebSockets through Channels (session auth, allowed origins only)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from hms.emergency.routing import websocket_urlpatterns as emergency_ws  # noqa: E402
from hms.frontdesk.routing import websocket_urlpatterns as frontdesk_ws  # noqa: E402
from hms.inpatient.routing import websocket_urlpatterns as beds_ws  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([*frontdesk_ws, *beds_ws, *emergency_ws]))
        ),
    }
)
