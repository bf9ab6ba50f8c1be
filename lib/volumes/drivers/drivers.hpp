// Drivers, the public header of lib/volumes/drivers: what provides a volume.
//  - driver.hpp:     the Driver interface, DriverError/DriverUnreachable, open_driver()
//  - driver_set.hpp: the drivers of one run, each opened once
//  - plugin.hpp:     a Docker volume plugin spoken to over lib/http (Transport, Timer seams)
//  - local.hpp:      the built-in `local` driver (Mounter seam)
//  - discovery.hpp:  finding a plugin's socket or spec file by name
#pragma once

#include "lib/volumes/drivers/discovery.hpp"
#include "lib/volumes/drivers/driver.hpp"
#include "lib/volumes/drivers/driver_set.hpp"
#include "lib/volumes/drivers/local.hpp"
#include "lib/volumes/drivers/plugin.hpp"
