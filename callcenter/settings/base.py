"""What every settings section shares: frozen models that refuse unknown keys, the error type,
network validation, lists given as one string."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

ENV_PREFIX = "CALLCENTER_"


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def split_list(value: object) -> object:
    """A list given as one string (an environment variable: "a, b c") -> its items; a list, as is."""
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    return value


def ip_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4/IPv6 network from "10.0.0.0/8", "10.0.0.0/255.0.0.0", "fd00::/8" or an address.

    Raises ValueError with a readable message (also for host bits set: "10.0.0.5/8").
    """
    try:
        return ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as err:
        detail = "" if "does not appear to be" in str(err) else f" ({err})"
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 network{detail}") from None


def _check_network(value: str) -> str:
    ip_network(value)
    return value.strip()


#: A string that :func:`ip_network` accepts (validated item by item: errors name the index).
Network = Annotated[str, AfterValidator(_check_network)]


def _positive_days(value: Mapping[str, int]) -> Mapping[str, int]:
    for line, days in value.items():
        if days < 1:
            raise ValueError(f"{line}: retention must be at least 1 day")
    return value


# Days something is kept, per business line: at least one.
RetentionDays = Annotated[Mapping[str, int], AfterValidator(_positive_days)]
