// dvdi::volumes: what a container asks for, who provides it, and what the node holds. The public
// header of lib/volumes; each of its rooms has its own:
//  - requests/requests.hpp: reading and validating requests, the tenant policy (SPEC S1, S7)
//  - drivers/drivers.hpp:   the Driver interface, Docker plugins, the `local` driver (SPEC S2)
//  - node/node.hpp:         reference counts, intents, gc, the state and its store, placement
//                           (SPEC S3, S4)
//  - catalog/catalog.hpp:   the operator's volume commands over every driver (docker volume ...)
// The HTTP transport the plugin client uses is lib/http; the kernel side is lib/ns.
#pragma once

#include "lib/volumes/catalog/catalog.hpp"
#include "lib/volumes/drivers/drivers.hpp"
#include "lib/volumes/node/node.hpp"
#include "lib/volumes/requests/requests.hpp"
