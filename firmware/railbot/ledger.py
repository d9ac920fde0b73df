"""The ledger: which unit is at which port (or carried), and what each unit is doing."""
from micropython import const

CARRIED = const(-1)
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
        return [uid for uid in sorted(self.port) if self.state[uid] == FREE and self.port[uid] != CARRIED]

    def describe(self):
        names = self.site.port_names
        out = []
        for uid in sorted(self.port):
            p = self.port[uid]
            out.append("%d:%s:%s" % (uid, "carried" if p == CARRIED else names[p], STATE_NAMES[self.state[uid]]))
        return ",".join(out)
