"""The car park's gateway (`railbot gateway`, docs/gateway.md): the robot's link, the units' meters, OCPP and the owners' API."""
