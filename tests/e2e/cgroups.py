"""Real cgroups for the end-to-end tests that need one (a memory limit, a
task limit): made under the machine's own hierarchy, as root."""
import contextlib
import os


def cgroup_mounts():
    """(fstype, mount point, super options) of the cgroup mounts."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(fields) >= 5 and len(rfields) >= 3 and rfields[0] in ("cgroup", "cgroup2"):
                mounts.append((rfields[0], fields[4], rfields[2].split(",")))
    return mounts


def entering(cgdir):
    """A preexec_fn that moves the child into cgdir."""
    def enter():
        with open(os.path.join(cgdir, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    return enter


def _write(d, files):
    # A name starting "?" is written only when the file is there.
    for name, value in files.items():
        path = os.path.join(d, name.lstrip("?"))
        if name.startswith("?") and not os.path.exists(path):
            continue
        with open(path, "w") as f:
            f.write(str(value))


def make_cgroup(name, controller, v1_files, v2_files):
    """A new cgroup `name` with `controller`, its files written (v1's
    hierarchy of that controller first, else v2's, the controller enabled
    for the root's children): (directory, version), or None when neither
    can be made (not root, read-only, no such controller)."""
    for fstype, point, opts in cgroup_mounts():
        if fstype == "cgroup" and controller in opts:
            d = os.path.join(point, name)
            try:
                os.makedirs(d, exist_ok=True)
                _write(d, v1_files)
                return d, 1
            except OSError as e:
                print(f"cgroup v1 at {point}: {e}")
    for fstype, point, _ in cgroup_mounts():
        if fstype != "cgroup2":
            continue
        try:
            with open(os.path.join(point, "cgroup.controllers")) as f:
                if controller not in f.read().split():
                    continue
            with open(os.path.join(point, "cgroup.subtree_control"), "w") as f:
                f.write("+" + controller)
            d = os.path.join(point, name)
            os.makedirs(d, exist_ok=True)
            _write(d, v2_files)
            return d, 2
        except OSError as e:
            print(f"cgroup v2 at {point}: {e}")
    return None


def remove_cgroup(cgdir):
    try:
        os.rmdir(cgdir)
    except OSError as e:
        print(f"could not remove {cgdir}: {e}")


@contextlib.contextmanager
def cgroup(name, controller, v1_files, v2_files):
    """make_cgroup as a context: yields the directory (None when it cannot
    be made) and removes it afterwards."""
    made = make_cgroup(name, controller, v1_files, v2_files)
    try:
        yield made[0] if made else None
    finally:
        if made:
            remove_cgroup(made[0])
