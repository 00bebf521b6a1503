"""evlog as a persistence module of the eventsourcing package (9.5.x).

    PERSISTENCE_MODULE=evlog.eventsourcing EVLOG_PATH=/var/lib/app python app.py

This namespace holds exactly one InfrastructureFactory subclass (the package finds it by
scanning the module): recorders, capture, replay and time travel live in submodules.
"""
from .factory import EvlogFactory

Factory = EvlogFactory

__all__ = ["EvlogFactory", "Factory"]
