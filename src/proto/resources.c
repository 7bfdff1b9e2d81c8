/* src/proto/resources.c — rewrites pre-1.4 resources (`role` + `reservation`)
 * into the `reservations` stack, wherever they sit in a decoded message.
 *
 * Mesos accepts both formats on its v1 API and upgrades on entry
 * (common/resources_utils.cpp, upgradeResources); Dromos does the same so
 * that the master and allocator only ever see `reservations`.
 */
#include <string.h>

#include "src/proto/proto_int.h"

/* `role` and `reservation` are deprecated in the generated header. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* Clears r->role, freeing it when it was malloc'd (not the static default). */
static void clear_role(Mesos__Resource *r, dr_arena *arena)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&mesos__resource__descriptor, "role");
    DR_ASSERT(f != NULL);
    if (arena == NULL && r->role != NULL && r->role != f->default_value)
        dr_free(r->role);
    r->role = NULL; /* unset: JSON prints the default "*" like Mesos */
}

static dr_code upgrade_one(Mesos__Resource *r, dr_arena *arena, const dr_proto_path *path,
                           dr_err *err)
{
    bool role_set = r->role != NULL && strcmp(r->role, "*") != 0;
    if (r->n_reservations > 0) {
        if (role_set || r->reservation != NULL)
            return dr_err_set(err, DR_EINVAL,
                              "'%s': 'reservations' cannot be combined with the pre-1.4 "
                              "'role' or 'reservation'",
                              dr__proto_path_cstr(path));
        clear_role(r, arena);
        return DR_OK; /* already in the new format (maybe with role "*") */
    }
    if (!role_set) {
        if (r->reservation != NULL)
            return dr_err_set(err, DR_EINVAL, "'%s': 'reservation' needs a role other than '*'",
                              dr__proto_path_cstr(path));
        clear_role(r, arena);
        return DR_OK; /* unreserved */
    }
    Mesos__Resource__ReservationInfo *info = r->reservation;
    if (info == NULL) {
        info = dr__proto_alloc(arena, sizeof *info);
        mesos__resource__reservation_info__init(info);
        info->type = MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC;
    } else {
        info->type = MESOS__RESOURCE__RESERVATION_INFO__TYPE__DYNAMIC;
    }
    info->has_type = 1;
    if (info->role != NULL && arena == NULL)
        dr_free(info->role);
    info->role = r->role; /* moved */
    r->reservations = dr__proto_alloc(arena, sizeof *r->reservations);
    r->reservations[0] = info;
    r->n_reservations = 1;
    r->reservation = NULL;
    r->role = NULL; /* moved; unset: JSON prints the default "*" like Mesos */
    return DR_OK;
}

static dr_code walk(ProtobufCMessage *m, dr_arena *arena, dr_proto_path *path, unsigned depth,
                    dr_err *err)
{
    DR_ASSERT(depth < 4096);
    if (m->descriptor == &mesos__resource__descriptor) {
        dr_code rc = upgrade_one((Mesos__Resource *)m, arena, path, err);
        if (rc != DR_OK)
            return rc;
    }
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        char *member = (char *)m + f->offset;
        size_t saved = path->size;
        dr_code rc = DR_OK;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *)((char *)m + f->quantifier_offset);
            ProtobufCMessage **arr = *(ProtobufCMessage ***)member;
            for (size_t k = 0; k < n && rc == DR_OK; k++) {
                dr__proto_path_push_field(path, f->name);
                dr__proto_path_push_index(path, k);
                rc = walk(arr[k], arena, path, depth + 1, err);
                path->size = saved;
                path->text[saved] = '\0';
            }
        } else if (*(ProtobufCMessage **)member != NULL) {
            dr__proto_path_push_field(path, f->name);
            rc = walk(*(ProtobufCMessage **)member, arena, path, depth + 1, err);
            path->size = saved;
            path->text[saved] = '\0';
        }
        if (rc != DR_OK)
            return rc;
    }
    return DR_OK;
}

dr_code dr_proto_upgrade_resources(ProtobufCMessage *msg, dr_arena *arena, dr_err *err)
{
    dr_proto_path path = {.size = 0};
    return walk(msg, arena, &path, 0, err);
}
