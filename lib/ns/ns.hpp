// dvdi::ns: the kernel side. Namespaces, path resolution inside a root, mounts.
// This library knows nothing of volumes or drivers (it never includes lib/volumes).
//  - features.hpp:    which mount-API syscalls the kernel offers
//  - mount_table.hpp: mount tables read with libmount
//  - process.hpp:     process identity (ProcessId, the one "alive" rule) and ProcessHandle, a
//                     pid pinned with its mount namespace
//  - place.hpp:       place_bind, a host directory bound safely into a process's namespace
//  - fs_mount.hpp:    mounting and unmounting filesystems with libmount (mount -t TYPE -o OPTS)
#pragma once

#include "lib/ns/features.hpp"
#include "lib/ns/fs_mount.hpp"
#include "lib/ns/mount_table.hpp"
#include "lib/ns/place.hpp"
#include "lib/ns/process.hpp"
