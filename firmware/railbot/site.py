"""The site as the robot sees it: stations, ports (bay and dock) and their rail positions, from board data."""


class Site:
    """Port index p: bays 1..2*count are p = bay-1; dock ports follow, left then right per dock."""

    def __init__(self, site_cfg):
        st = site_cfg["stations"]
        self.bays = 2 * st["count"]
        self.port_x_mm = []
        self.port_side = []
        self.port_station = []
        self.port_names = []
        for i in range(st["count"]):
            for side in (0, 1):
                self.port_x_mm.append(st["first_x_mm"] + i * st["pitch_mm"])
                self.port_side.append(side)
                self.port_station.append(st["first_id"] + i)
                self.port_names.append("B%d" % (2 * i + 1 + side))
        for d in site_cfg["docks"]:
            for side in (0, 1):
                self.port_x_mm.append(d["x_mm"])
                self.port_side.append(side)
                self.port_station.append(d["id"])
                self.port_names.append("D%d%s" % (d["id"], "LR"[side]))
        self.ports = len(self.port_names)

    def bay_port(self, bay):
        return bay - 1

    def port_bay(self, port):
        return port + 1 if port < self.bays else 0

    def port_index(self, name):
        return self.port_names.index(name)
