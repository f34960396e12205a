"""Extension singletons, created unbound and attached to the app in ``create_app``."""

from authlib.integrations.flask_client import OAuth
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from community.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Limits are declared per route; storage is memory unless RATELIMIT_STORAGE_URI names Redis.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
oauth = OAuth()
