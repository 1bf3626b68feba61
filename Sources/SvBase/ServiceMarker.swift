/// The environment variable svtree sets in every process it starts, naming the service
/// directory: a subreaper (or a new root after a crash) tells by it whose orphan a process is.
public enum ServiceMarker {
    public static let variable = "SVTREE_SERVICE"
}
