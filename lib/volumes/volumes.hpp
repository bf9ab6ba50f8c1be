// dvdi::volumes: what a container asks for (requests and their parsing), the drivers that
// provide volumes (Docker plugin client, the built-in `local` driver) and the node's state.
#pragma once
