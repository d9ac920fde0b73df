"""The ledger: which unit is at which port (or carried), and what each unit is doing."""
from micropython import const

CARRIED = const(-1)
UNKNOWN = const(-2)  # not at the port the ledger named: found missing; a technician must place it
FREE = const(0)  # at a port, may be moved
SERVING = const(1)  # latched at a bay whose car asked for it
IN_USE = const(2)  # found with its gun out or a vehicle on its pilot: never moved until released

STATE_NAMES = ("free", "serving", "in-use")


class Ledger:
    def __init__(self, site, units_cfg):
        self.site = site
        self.port = {}
        self.state = {}
        for u in units_cfg:
            self.port[u["id"]] = site.port_index(u["port"])
            self.state[u["id"]] = FREE

    def unit_at(self, port):
        for uid in self.port:
            if self.port[uid] == port:
                return uid
        return 0

    def carried(self):
        return self.unit_at(CARRIED)

    def free_units(self):
        return [uid for uid in sorted(self.port) if self.state[uid] == FREE and self.port[uid] >= 0]

    def describe(self):
        names = self.site.port_names
        out = []
        for uid in sorted(self.port):
            p = self.port[uid]
            out.append("%d:%s:%s" % (uid, "carried" if p == CARRIED else "unknown" if p == UNKNOWN else names[p],
                                     STATE_NAMES[self.state[uid]]))
        return ",".join(out)

    def dump(self):
        """The ledger as record text: `v=1`, then `u<id>=<port>,<state>` a line (CARRIED is -1).
        Other parts of a record (e.g. the unfinished job) add lines of their own keys."""
        out = ["v=1"]
        for uid in sorted(self.port):
            out.append("u%d=%d,%d" % (uid, self.port[uid], self.state[uid]))
        return "\n".join(out) + "\n"

    def load(self, text):
        """Take the units' places and states from record text; False (and nothing changed) unless
        the version is 1 and every unit of this ledger appears once, in canonical form, at a port
        of the site or CARRIED, with a known state, no two units at one port (nor two carried).
        Lines of other keys are left to their owners (keys `u` + digits are units')."""
        if not isinstance(text, str):
            return False
        port = {}
        state = {}
        version = 0
        try:
            for line in text.split("\n"):
                i = line.find("=")
                key, val = line[:i], line[i + 1:]
                if key == "v":
                    version += 1 if val == "1" else 2
                elif key[:1] == "u" and key[1:].isdigit():
                    uid = int(key[1:])
                    p, st = val.split(",")  # ValueError unless two fields
                    p, st = int(p), int(st)
                    if ("%d,%d" % (p, st) != val or uid not in self.port or uid in port
                            or not (p == CARRIED or p == UNKNOWN or 0 <= p < self.site.ports) or not FREE <= st <= IN_USE):
                        return False
                    port[uid] = p
                    state[uid] = st
                elif line and i < 1:
                    return False
        except ValueError:
            return False
        placed = [p for p in port.values() if p != UNKNOWN]  # any number of units may be unknown
        if version != 1 or len(port) != len(self.port) or len(set(placed)) != len(placed):
            return False
        for uid in port:  # in place: other objects may hold these dicts
            self.port[uid] = port[uid]
            self.state[uid] = state[uid]
        return True
