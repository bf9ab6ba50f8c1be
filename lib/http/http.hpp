// dvdi::http: the small HTTP/1.1 transport the plugin client speaks Docker's plugin protocol
// over (unix sockets or TCP on loopback), and the test plugin serves it with. It knows nothing
// of volumes. The public header of lib/http.
//  - wire.hpp:   reading and writing one message with bounds and deadlines (Reader, write_all)
//  - client.hpp: Endpoint, Client (one kept-alive connection, a deadline per call)
#pragma once

#include "lib/http/client.hpp"
#include "lib/http/wire.hpp"
