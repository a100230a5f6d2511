/// WooCommerce webhook intake: signature checks, routing of topics to jobs, de-duplication, coalescing and the
/// durable spool. Filled by the dispatcher issue; the module exists now so the layout of DESIGN.md builds.
public enum Dispatcher {}
