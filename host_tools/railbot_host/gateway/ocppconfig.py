"""The charge point's OCPP configuration keys (GetConfiguration / ChangeConfiguration), kept in the store."""

from __future__ import annotations

#: key -> (default, readonly, lo, hi): every value is an integer (seconds or a count)
KEYS = {
    "HeartbeatInterval": (300, False, 10, 86_400),
    "MeterValueSampleInterval": (600, False, 10, 86_400),
    # how long a delivered unit waits for its car to plug in before it is released
    "ConnectionTimeOut": (1800, False, 30, 86_400),
    "NumberOfConnectors": (44, True, 1, 99),
    # a transaction message the CSMS answers with a CallError: tried this often, this far apart
    "TransactionMessageAttempts": (3, False, 1, 10),
    "TransactionMessageRetryInterval": (60, False, 1, 3600),
}
SAMPLED_DATA = "Energy.Active.Import.Register"


class OcppConfig:
    def __init__(self, store, bays: int = 44):
        self.store = store
        self.bays = bays

    def int(self, key: str) -> int:
        if key == "NumberOfConnectors":
            return self.bays
        return int(self.store.setting("ocpp." + key, str(KEYS[key][0])))

    def set_heartbeat(self, interval_s: int) -> None:
        self.store.set_setting("ocpp.HeartbeatInterval", str(max(KEYS["HeartbeatInterval"][2], interval_s)))

    def get_many(self, keys: list[str] | None) -> tuple[list[dict], list[str]]:
        names = list(KEYS) + ["MeterValuesSampledData"] if not keys else keys
        known, unknown = [], []
        for k in names:
            if k == "MeterValuesSampledData":
                known.append({"key": k, "readonly": True, "value": SAMPLED_DATA})
            elif k in KEYS:
                known.append({"key": k, "readonly": KEYS[k][1], "value": str(self.int(k))})
            else:
                unknown.append(k)
        return known, unknown

    def change(self, key: str, value: str) -> str:
        """Accepted, Rejected (read-only, not an integer or out of range) or NotSupported (unknown key)."""
        if key == "MeterValuesSampledData":
            return "Rejected"
        if key not in KEYS:
            return "NotSupported"
        default, readonly, lo, hi = KEYS[key]
        try:
            v = int(value)
        except ValueError:
            return "Rejected"
        if readonly or not lo <= v <= hi:
            return "Rejected"
        self.store.set_setting("ocpp." + key, str(v))
        return "Accepted"
