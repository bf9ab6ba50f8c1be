// dvdi::volumes: what a container asks for (requests and their parsing), the drivers that
// provide volumes (Docker plugin client, the built-in `local` driver) and the node's state.
//  - driver.hpp:        the Driver interface, DriverError, open_driver()
//  - plugin_driver.hpp: a Docker volume plugin spoken to over HTTP (Transport, Timer seams)
//  - local_driver.hpp:  the built-in `local` driver (Mounter seam)
//  - discovery.hpp:     finding a plugin's socket or spec file by name
//  - http_client.hpp:   the small HTTP/1.1 client (unix sockets, TCP), http_wire.hpp its parser
#pragma once

#include "lib/volumes/discovery.hpp"
#include "lib/volumes/driver.hpp"
#include "lib/volumes/http_client.hpp"
#include "lib/volumes/local_driver.hpp"
#include "lib/volumes/plugin_driver.hpp"
