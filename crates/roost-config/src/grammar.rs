//! Command grammar per mode: a trie of keywords and parameters built from syntax strings,
//! with IOS-style unique-prefix matching, `?` help and completion.

use roost_wire::{Mac, Model};
use std::net::Ipv4Addr;
use std::sync::OnceLock;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Act {
    // show
    ShowClusterStatus,
    ShowClusterConfiguration,
    ShowClusterMembers,
    ShowClusterHistory,
    ShowClusterRevisions,
    ShowClusterTraffic,
    ShowWirelessAp,
    ShowAdoptionStatus,
    ShowAdoptionHistory,
    ShowAdoptionOffline,
    ShowWirelessApConfigured,
    ShowRunning,
    ShowStartup,
    ShowVersion,
    ShowLicenses,
    ShowClock,
    ShowContext,
    ShowHistory,
    // terminal
    TermLength,
    TermWidth,
    Page,
    NoPage,
    // modes
    Enable,
    Disable,
    ConfigureTerminal,
    Exit,
    End,
    Logout,
    // operations
    Commit,
    CommitWrite,
    Write,
    WriteTerminal,
    CopyRunStart,
    Revert,
    JoinCluster,
    RestoreRevision,
    DebugOn,
    DebugOff,
    UndebugAll,
    LogMonOn,
    LogMonOff,
    // config
    Cfg,
    User,
    SshKey,
    SelfDevice,
    Device,
    NoDevice,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum PKind {
    Num,
    Word,
    Ip,
    Prefix,
    Mac,
    /// The rest of the line (an ssh-key comment, an output modifier's regular expression).
    Line,
}

impl PKind {
    /// Does a whole token fit this parameter?
    pub fn accepts(self, t: &str) -> bool {
        match self {
            PKind::Num => !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit()),
            PKind::Word => !t.is_empty() && !t.chars().any(char::is_control),
            PKind::Ip => t.parse::<Ipv4Addr>().is_ok(),
            PKind::Prefix => t.split_once('/').is_some_and(|(a, m)| {
                a.parse::<Ipv4Addr>().is_ok()
                    && !m.is_empty()
                    && m.len() <= 2
                    && m.bytes().all(|b| b.is_ascii_digit())
                    && m.parse::<u8>().is_ok_and(|m| m <= 32)
            }),
            PKind::Mac => t.parse::<Mac>().is_ok(),
            PKind::Line => !t.chars().any(char::is_control),
        }
    }
    /// Could a partly typed token become this parameter?
    pub fn accepts_partial(self, t: &str) -> bool {
        match self {
            PKind::Num => t.bytes().all(|b| b.is_ascii_digit()),
            PKind::Word | PKind::Line => !t.chars().any(char::is_control),
            PKind::Ip => t.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            PKind::Prefix => t
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'/'),
            PKind::Mac => t
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b"-:.".contains(&b)),
        }
    }
    /// Canonical text of an accepted token.
    pub fn canonical(self, t: &str) -> String {
        match self {
            PKind::Num => t
                .parse::<u64>()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| t.to_string()),
            PKind::Word | PKind::Line => t.to_string(),
            PKind::Ip => t
                .parse::<Ipv4Addr>()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| t.to_string()),
            PKind::Prefix => match t.split_once('/') {
                Some((a, m)) => match (a.parse::<Ipv4Addr>(), m.parse::<u8>()) {
                    (Ok(a), Ok(m)) => format!("{a}/{m}"),
                    _ => t.to_string(),
                },
                None => t.to_string(),
            },
            PKind::Mac => t
                .parse::<Mac>()
                .map(|m| m.to_string())
                .unwrap_or_else(|_| t.to_string()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Node {
    /// Keyword, or `None` for a parameter.
    pub kw: Option<&'static str>,
    pub param: Option<(PKind, &'static str)>,
    pub help: &'static str,
    pub children: Vec<Node>,
    pub act: Option<Act>,
}

impl Node {
    fn root() -> Node {
        Node {
            kw: None,
            param: None,
            help: "",
            children: Vec::new(),
            act: None,
        }
    }
    /// The name shown in help: the keyword or the parameter's label.
    pub fn name(&self) -> &'static str {
        self.kw.or(self.param.map(|p| p.1)).unwrap_or("")
    }
    fn add(&mut self, toks: &[&'static str], act: Act) {
        let mut node = self;
        let mut parent: &'static str = "";
        for &t in toks {
            let idx = match node.children.iter().position(|c| c.name() == t) {
                Some(i) => i,
                None => {
                    let (kw, param) = classify(t);
                    node.children.push(Node {
                        kw,
                        param,
                        help: describe(parent, t),
                        children: Vec::new(),
                        act: None,
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[idx];
            parent = t;
        }
        node.act = Some(act);
    }
    fn add_str(&mut self, spec: &'static str, act: Act) {
        let toks: Vec<&'static str> = spec.split_whitespace().collect();
        self.add(&toks, act);
    }
}

fn classify(t: &'static str) -> (Option<&'static str>, Option<(PKind, &'static str)>) {
    let p = |k| (None, Some((k, t)));
    match t {
        "WORD" => p(PKind::Word),
        "A.B.C.D" => p(PKind::Ip),
        "A.B.C.D/M" => p(PKind::Prefix),
        "AA-BB-CC-DD-EE-FF" => p(PKind::Mac),
        "<number>" => p(PKind::Num),
        "LINE" => p(PKind::Line),
        _ if t.starts_with('<') => {
            let inner = &t[1..t.len() - 1];
            let is_range = inner
                .split_once('-')
                .is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok());
            if is_range {
                p(PKind::Num)
            } else {
                p(PKind::Word)
            }
        }
        _ => (Some(t), None),
    }
}

/// One-line help for a token of the grammar, given the token before it.
fn describe(parent: &str, t: &str) -> &'static str {
    let d = describe_in(parent, t);
    if d.is_empty() && !parent.is_empty() {
        describe_in("", t)
    } else {
        d
    }
}

fn describe_in(parent: &str, t: &str) -> &'static str {
    match (parent, t) {
        // DHCP server policy (issue 10); first, so that no general entry below takes them.
        ("", "dhcp-server-policy") => "Configure a DHCP server policy (the pools the cluster serves)",
        ("dhcp-server-policy", _) => "Policy name (at most 32 characters)",
        ("use", "dhcp-server-policy") => "The DHCP server policy this controller serves",
        ("", "activation-criteria") => "Which members serve this policy",
        ("activation-criteria", "none") => {
            "Every member whose device section uses the policy serves (default)"
        }
        ("activation-criteria", "cluster-master") => "Only the cluster master serves",
        ("", "ping-timeout") => "Probe an address before offering it (off by default)",
        ("ping-timeout", _) => "Seconds to wait for an answer to the probe",
        ("", "bootp") => "BOOTP requests",
        ("bootp", "ignore") => "Do not answer BOOTP requests",
        ("", "option") => "DHCP option: defined in the policy, given a value in a pool",
        ("option", _) => "Option name",
        ("WORD", "<0-254>") => "Option code (not a code a pool sets in a field of its own)",
        ("<0-254>", "ip") => "The value is one or more IPv4 addresses",
        ("<0-254>", "ascii") => "The value is text (\\\\ stands for one backslash)",
        ("<0-254>", "hex") => "The value is bytes, as an even number of hex digits",
        ("WORD", "<value>") => "The value, as the option's type says: A.B.C.D..., text or hex digits",
        ("<value>", "A.B.C.D") => "Another address (ip options; at most 8)",
        ("", "dhcp-pool") => "Configure a DHCP pool (one subnet)",
        ("dhcp-pool", _) => "Pool name (at most 32 characters)",
        ("", "network") => "The pool's subnet",
        ("network", _) => "Network address and mask length",
        ("", "address") => "Addresses the pool hands out",
        ("address", "range") => "A range of dynamic addresses (several allowed, disjoint)",
        ("range", _) => "First address of the range",
        ("", "default-router") => "Routers the clients are told (option 3), in order of preference",
        ("default-router", _) => "IP address of a router",
        ("", "dns-server") => "DNS servers the clients are told (option 6), in order of preference",
        ("dns-server", _) => "IP address of a DNS server",
        ("", "domain-name") => "Domain name the clients are told (option 15)",
        ("domain-name", _) => "Domain name",
        ("", "lease") => "Lease time: days [hours [minutes [seconds]]] (default 1 day)",
        ("lease", _) => "Days",
        ("<0-365>", _) => "Hours",
        ("<0-23>", _) => "Minutes",
        ("<0-59>", _) => "Seconds",
        ("", "static-binding") => "A client that always gets the same address",
        ("static-binding", _) => "The client's MAC address",
        ("AA-BB-CC-DD-EE-FF", "ip") => "The address it gets",
        ("", "show") => "Show running system information",
        ("", "terminal") => "Set terminal line parameters",
        ("", "page") => "Toggle paging",
        ("", "no") => "Negate a command or set its defaults",
        ("", "enable") => "Turn on privileged mode command",
        ("", "disable") => "Turn off privileged mode command",
        ("", "configure") => "Enter configuration mode",
        ("", "exit") => "End current mode and down to previous mode",
        ("", "end") => "End current mode and change to EXEC mode",
        ("", "logout") => "Exit from the EXEC",
        ("", "quit") => "Exit from the EXEC",
        ("", "commit") => "Commit all changes made in this session",
        ("", "write") => "Write running configuration to memory or terminal",
        ("", "revert") => "Revert changes made in this session",
        ("", "join-cluster") => "Join the cluster",
        ("", "cluster") => "Cluster commands",
        ("", "debug") => "Debugging functions",
        ("", "undebug") => "Disable debugging functions",
        ("", "logging") => "Modify message logging facilities",
        ("", "self") => "Configure the current device",
        ("", "device") => "Configure a device section (by MAC address)",
        ("", "user-management") => "Management users",
        ("", "wlan") => "WLAN configuration",
        ("", "hostname") => "Set system's network name",
        ("", "interface") => "Select an interface to configure",
        ("", "ip") => "Internet Protocol (IP)",
        ("", "user") => "Create or modify a management user",
        ("", "ssid") => "Configure the SSID of this WLAN",
        ("", "vlan") => "VLAN of this WLAN",
        ("", "shutdown") => "Shutdown this WLAN",
        ("", "encryption-type") => "Encryption of this WLAN",
        ("", "authentication-type") => "Authentication of this WLAN's stations",
        ("", "wpa-wpa2") => "WPA/WPA2 settings",
        ("wpa-wpa2", "psk") => "Pre-shared key",
        ("", "profile") => "Configure an AP profile",
        ("", "controller") => "Controller the profile's APs are told",
        ("controller", "host") => "Controller address",
        ("interface", "radio1") => "Radio 1",
        ("interface", "radio2") => "Radio 2",
        ("interface", "radio3") => "Radio 3",
        ("encryption-type", "ccmp") => "AES-CCMP (WPA2)",
        ("encryption-type", "tkip-ccmp") => "TKIP and AES-CCMP (WPA/WPA2 mixed)",
        ("encryption-type", "none") => "No encryption",
        ("authentication-type", "eap") => "802.1X / EAP",
        ("authentication-type", "none") => "No authentication (open or PSK)",
        (_, "primary") => "The primary WLAN of this BSS",
        ("", m) if Model::ALL.iter().any(|x| x.prefix() == m) => {
            "Configure a device section of this model"
        }
        ("show", "cluster") => "Cluster Protocol",
        ("show", "running-config") => "Current operating configuration",
        ("show", "startup-config") => "Startup configuration",
        ("show", "version") => "Display software & hardware version",
        ("show", "licenses") => "Show license information",
        ("show", "clock") => "Display system clock",
        ("show", "context") => "Information about current context",
        ("show", "history") => "Display the session command history",
        ("", "do") => "To run exec commands in config mode",
        ("", "|") => "Output modifiers",
        ("|", "begin") => "Begin with the line that matches",
        ("|", "exclude") => "Exclude lines that match",
        ("|", "include") => "Include lines that match",
        ("begin" | "exclude" | "include", _) => "Regular expression",
        ("", "copy") => "Copy from one file to another",
        ("copy", "running-config") => "Copy from current system configuration",
        ("running-config", "startup-config") => "Copy to startup configuration",
        ("write", "terminal") => "Write to terminal",
        ("cluster", "status") => "Cluster status",
        ("cluster", "configuration") => "Cluster configuration",
        ("cluster", "members") => "Cluster members",
        ("cluster", "history") => "Cluster state change history",
        ("cluster", "revisions") => "Configuration revisions and superseded configurations",
        ("cluster", "traffic") => "Member channel counters (accepted and dropped datagrams)",
        ("show", "wireless") => "Wireless commands",
        ("wireless", "ap") => "Access points this controller adopted or refused",
        ("show", "adoption") => "Adoption information",
        ("adoption", "status") => "Whether this controller adopts APs, and its adoption counters",
        ("adoption", "history") => "APs adopted and un-adopted by this controller, and why",
        ("adoption", "offline") => "APs not adopted anywhere: refused, or on a lost controller",
        ("ap", "configured") => "The APs as configured devices: type, MAC, profile, hostname",
        ("cluster", "restore-revision") => "Restore a superseded configuration",
        ("cluster", "name") => "Configure cluster name",
        ("cluster", "mode") => "Configure cluster mode",
        ("cluster", "master-priority") => "Configure cluster master priority",
        ("cluster", "force-configured-state") => {
            "Force the cluster member back to its configured mode"
        }
        ("cluster", "ap-balance") => "Active/Active AP load balancing (Roost; on by default)",
        ("ap-balance", "threshold") => {
            "Largest less smallest member load, percent of capacity, that moves APs (default 10)"
        }
        ("ap-balance", "hold-down") => "Seconds before a moved AP may move again (default 600)",
        ("cluster", "force-configured-state-delay") => "Delay before forcing the configured mode",
        ("cluster", "handle-stp") => "Handle STP convergence for the cluster",
        ("cluster", "radius-counter-db-sync-time") => "Radius counter database sync time",
        ("cluster", "member") => "Cluster member",
        ("cluster", "hello-interval") => "Hello interval in milliseconds (Roost)",
        ("cluster", "dead-interval") => {
            "Dead interval in milliseconds, at least 3 x hello-interval (Roost)"
        }
        ("terminal", "length") => "Set number of lines on a screen",
        ("terminal", "width") => "Set width of the display terminal",
        ("length", _) => "Number of lines on screen (0 for no pausing)",
        ("width", _) => "Number of characters on a screen line",
        ("configure", "terminal") => "Configure from the terminal",
        ("commit", "write") => "Commit and write the configuration to memory",
        ("write", "memory") => "Write to NV memory",
        ("join-cluster", _) => "IP address of a cluster member",
        ("A.B.C.D", "user") => "Management user name",
        ("user", "WORD") => "User name",
        ("user", _) => "User name",
        ("WORD", "password") => "Password of the user",
        ("WORD", "ssh-key") => "Authorised SSH public key of the user",
        ("password", "0") => "The password is given in clear text",
        ("password", "1") => "The password is given as an argon2 hash",
        ("password", _) => "Password",
        ("0", _) => "Password (clear text)",
        ("1", _) => "Password hash ($argon2id$...)",
        ("WORD", "level") => "MiNT link level of the cluster member",
        ("level", _) => "MiNT link level",
        ("<1-2>", "mode") => "Cluster mode of this member",
        ("mode", "active") => "Configure cluster mode as active",
        ("mode", "standby") => "Configure cluster mode as standby",
        ("WORD", "role") => "Role of the user",
        ("role", "superuser") => "May configure",
        ("role", "monitor") => "Read only",
        ("superuser", "opaque") | ("monitor", "opaque") => {
            "The user's OPAQUE registration record for join-cluster (hex)"
        }
        ("active", "fingerprint") | ("standby", "fingerprint") => {
            "Accept only the primary whose TLS certificate has this SHA-256 fingerprint"
        }
        ("ssh-key", _) => "Key type (ssh-ed25519, ssh-rsa, ...)",
        ("WORD", "WORD") => "Base64 key data",
        ("WORD", "LINE") => "Key comment (ignored), e.g. user@host",
        ("restore-revision", _) => "Revision number of the superseded configuration",
        ("<number>", _) => "Hash prefix of the superseded configuration's head",
        ("debug", "cfgd") => "Configuration daemon debugging",
        ("cfgd", "cluster") => "Cluster debugging",
        ("undebug", "all") => "Disable all debugging",
        ("logging", "monitor") => "Set terminal line (monitor) logging parameters",
        ("monitor", "debugging") => "Debugging messages",
        ("device", _) => "MAC address of the device",
        (m, _) if Model::ALL.iter().any(|x| x.prefix() == m) => "MAC address of the device",
        ("", m) if crate::AP_MODELS.contains(&m) => {
            "Configure an AP's device section (its hostname)"
        }
        (m, _) if crate::AP_MODELS.contains(&m) => "MAC address of the AP",
        ("wlan", _) => "WLAN name",
        ("hostname", _) => "This system's network name",
        ("interface", "vlan") => "VLAN interface",
        ("vlan", _) => "VLAN id",
        ("ip", "address") => "Set the IP address of an interface",
        ("ip", "default-gateway") => "Default gateway",
        ("ip", _) => "IP address of the cluster member",
        ("address", _) => "IP address and mask length",
        ("default-gateway", _) => "IP address of the default gateway",
        ("name", _) => "Cluster name",
        ("master-priority", _) => "Master priority (higher wins, default 128)",
        ("force-configured-state-delay", _) => {
            "Delay in minutes (or <1-108000> followed by 'seconds')"
        }
        ("<3-1800>", "minutes") => "The delay is in minutes",
        ("<3-1800>", "seconds") => "The delay is in seconds (Roost)",
        ("radius-counter-db-sync-time", _) => "Sync time in minutes",
        ("", "license") => "License settings of the cluster",
        ("", "auto-provisioning-policy") => "Configure an auto-provisioning policy (AP adoption rules)",
        ("auto-provisioning-policy", _) => "Policy name (at most 32 characters)",
        ("use", "auto-provisioning-policy") => "The auto-provisioning policy this controller applies",
        ("", "use") => "Use a policy",
        ("", "adopt") => "Adopt the APs this rule matches",
        ("", "deny") => "Refuse the APs this rule matches",
        ("", "redirect") => "Send the APs this rule matches to another controller",
        ("adopt" | "deny" | "redirect", _) => "AP type: anyap or a model (ap7532, ap8533, ...)",
        (_, "precedence") => "Rule precedence (lower first)",
        ("precedence", _) => "1-10000",
        ("", "default-adoption") => "Adopt APs no rule matches",
        ("", "evaluate-always") => "Run the rules at every adoption",
        (_, "any") => "Any AP",
        (_, "mac") => "A MAC address, or a range of two",
        (_, "model-number") => "The AP's model number",
        (_, "serial-number") => "The AP's serial number",
        ("model-number" | "serial-number", _) => "As the AP reports it",
        ("mac", _) | ("AA-BB-CC-DD-EE-FF", _) => "MAC address (range start or end)",
        ("A.B.C.D" | "<1-10000>", "controller") => "The controller to send the APs to",
        ("<1-10000>", "profile") => "The profile the APs get",
        ("", "capwap") => "CAPWAP timers this profile's APs are told (Roost)",
        ("", "adoption") => "How this profile's APs adopt",
        ("adoption", "start-delay") => {
            "A cold-starting AP waits a random time in [min, max] s before it joins (alone: WiNG's 5 20)"
        }
        ("start-delay", "min") | ("<0-30>", "max") => "Seconds",
        ("capwap", "echo-interval") => "Echo interval in seconds, in CAPWAP Timers (default 30)",
        ("capwap", "discovery-interval") => {
            "Discovery interval in seconds, in CAPWAP Timers (default 5)"
        }
        ("capwap", "fast-timers") => {
            "Roost's sub-second failure detection for Roost WTPs (default echo 5000 retransmit 300 count 3)"
        }
        ("echo-interval" | "discovery-interval", _) => "Seconds",
        ("fast-timers", "echo") | ("<500-60000>", "retransmit") | ("<50-3000>", "count") => {
            "Echo interval (ms), retransmit interval (ms), retransmissions before giving up"
        }
        ("echo", _) => "Echo interval in milliseconds",
        ("retransmit", _) => "Retransmit interval in milliseconds (at most half the echo)",
        ("count", _) => "Retransmissions before the AP gives up on its controller",
        ("license", "grace-period") => {
            "How long a lost member's licenses stay in the pool (Roost; default 100 days)"
        }
        ("", "ap-firmware") => "The firmware version APs of a model must run (Roost)",
        ("ap-firmware", _) => "AP model (ap7532, ap8533, ...), then the version",
        ("", "enforce-version") => "Refuse APs whose firmware differs from ap-firmware",
        ("enforce-version", "adoption") => "When an AP adopts",
        ("adoption", "strict") => "The whole version string (default)",
        ("adoption", "full") => "All four parts of the version",
        ("adoption", "minor") => "The first three parts",
        ("adoption", "major") => "The first two parts",
        ("adoption", "none") => "Any version",
        ("grace-period", _) => "Days (or <0-8640000> followed by 'seconds')",
        ("<0-100>", "seconds") => "The grace period is in seconds (Roost)",
        ("hello-interval", _) => "Milliseconds (default 100)",
        ("dead-interval", _) => "Milliseconds (default 300)",
        ("member", "ip") => "Cluster member IP address",
        ("member", "vlan") => "Cluster member VLAN (not supported by join-cluster)",
        ("ssid", _) => "SSID",
        ("profile", _) => "AP model (ap7532, ap8533, ...), then the profile name",
        ("bss", _) => "BSS (WLAN ID) on this radio",
        ("pool", _) => "Controller pool (2 is tried only when pool 1 is unreachable)",
        ("psk", "0") => "The key in clear text (masked whenever it is shown)",
        _ => "",
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Exec,
    Priv,
    Global,
    Device,
    ApDevice,
    Interface,
    UserMgmt,
    Wlan,
    Profile,
    Radio,
    Policy,
    /// `dhcp-server-policy <NAME>`.
    DhcpPolicy,
    /// A DHCP server policy's `dhcp-pool <NAME>`.
    DhcpPool,
}

const SHOW: &[(&str, Act)] = &[
    ("show cluster status", Act::ShowClusterStatus),
    ("show cluster configuration", Act::ShowClusterConfiguration),
    ("show cluster members", Act::ShowClusterMembers),
    ("show cluster history", Act::ShowClusterHistory),
    ("show cluster revisions", Act::ShowClusterRevisions),
    ("show cluster traffic", Act::ShowClusterTraffic),
    ("show wireless ap", Act::ShowWirelessAp),
    ("show wireless ap configured", Act::ShowWirelessApConfigured),
    ("show adoption status", Act::ShowAdoptionStatus),
    ("show adoption history", Act::ShowAdoptionHistory),
    ("show adoption offline", Act::ShowAdoptionOffline),
    ("show version", Act::ShowVersion),
    ("show licenses", Act::ShowLicenses),
    ("show clock", Act::ShowClock),
    ("show history", Act::ShowHistory),
];

const SHOW_PRIV: &[(&str, Act)] = &[
    ("show running-config", Act::ShowRunning),
    ("show startup-config", Act::ShowStartup),
    ("show context", Act::ShowContext),
];

const EXEC: &[(&str, Act)] = &[
    ("terminal length <0-512>", Act::TermLength),
    ("terminal width <0-512>", Act::TermWidth),
    ("page", Act::Page),
    ("no page", Act::NoPage),
    ("enable", Act::Enable),
    ("exit", Act::Exit),
    ("logout", Act::Logout),
    ("quit", Act::Logout),
];

const PRIV: &[(&str, Act)] = &[
    ("disable", Act::Disable),
    ("configure terminal", Act::ConfigureTerminal),
    (
        "join-cluster A.B.C.D user WORD password WORD level <1-2> mode active",
        Act::JoinCluster,
    ),
    (
        "join-cluster A.B.C.D user WORD password WORD level <1-2> mode standby",
        Act::JoinCluster,
    ),
    (
        "join-cluster A.B.C.D user WORD password WORD level <1-2> mode active fingerprint WORD",
        Act::JoinCluster,
    ),
    (
        "join-cluster A.B.C.D user WORD password WORD level <1-2> mode standby fingerprint WORD",
        Act::JoinCluster,
    ),
    ("cluster restore-revision <number>", Act::RestoreRevision),
    (
        "cluster restore-revision <number> <hash-prefix>",
        Act::RestoreRevision,
    ),
    ("debug cfgd cluster", Act::DebugOn),
    ("no debug cfgd cluster", Act::DebugOff),
    ("undebug all", Act::UndebugAll),
    ("copy running-config startup-config", Act::CopyRunStart),
    ("logging monitor debugging", Act::LogMonOn),
    ("no logging monitor", Act::LogMonOff),
];

/// Available in privileged and every configuration mode.
const OPS: &[(&str, Act)] = &[
    ("commit", Act::Commit),
    ("commit write", Act::CommitWrite),
    ("write", Act::Write),
    ("write memory", Act::Write),
    ("write terminal", Act::WriteTerminal),
    ("revert", Act::Revert),
];

const CONFIG_COMMON: &[(&str, Act)] = &[("exit", Act::Exit), ("end", Act::End)];

const GLOBAL: &[(&str, Act)] = &[
    ("self", Act::SelfDevice),
    ("device AA-BB-CC-DD-EE-FF", Act::Device),
    ("no device AA-BB-CC-DD-EE-FF", Act::NoDevice),
    ("user-management", Act::Cfg),
    ("wlan WORD", Act::Cfg),
    ("no wlan WORD", Act::Cfg),
    ("profile WORD WORD", Act::Cfg),
    ("no profile WORD WORD", Act::Cfg),
    ("auto-provisioning-policy WORD", Act::Cfg),
    ("no auto-provisioning-policy WORD", Act::Cfg),
    ("dhcp-server-policy WORD", Act::Cfg),
    ("no dhcp-server-policy WORD", Act::Cfg),
    ("license grace-period <0-100>", Act::Cfg),
    ("license grace-period <0-100> seconds", Act::Cfg),
    ("no license grace-period", Act::Cfg),
    ("ap-firmware WORD WORD", Act::Cfg),
    ("no ap-firmware WORD", Act::Cfg),
    ("enforce-version adoption strict", Act::Cfg),
    ("enforce-version adoption full", Act::Cfg),
    ("enforce-version adoption minor", Act::Cfg),
    ("enforce-version adoption major", Act::Cfg),
    ("enforce-version adoption none", Act::Cfg),
    ("no enforce-version adoption", Act::Cfg),
];

const PROFILE: &[(&str, Act)] = &[
    ("interface radio1", Act::Cfg),
    ("interface radio2", Act::Cfg),
    ("interface radio3", Act::Cfg),
    ("no interface radio1", Act::Cfg),
    ("no interface radio2", Act::Cfg),
    ("no interface radio3", Act::Cfg),
    ("controller host A.B.C.D pool <1-2>", Act::Cfg),
    ("controller host A.B.C.D pool <1-2> level <1-2>", Act::Cfg),
    ("no controller host A.B.C.D", Act::Cfg),
    ("capwap echo-interval <1-255>", Act::Cfg),
    ("no capwap echo-interval", Act::Cfg),
    ("capwap discovery-interval <2-180>", Act::Cfg),
    ("no capwap discovery-interval", Act::Cfg),
    ("capwap fast-timers", Act::Cfg),
    (
        "capwap fast-timers echo <500-60000> retransmit <50-3000> count <1-10>",
        Act::Cfg,
    ),
    ("no capwap fast-timers", Act::Cfg),
    ("adoption start-delay", Act::Cfg),
    ("adoption start-delay min <0-30> max <0-30>", Act::Cfg),
    ("no adoption start-delay", Act::Cfg),
];

const RADIO: &[(&str, Act)] = &[
    ("wlan WORD bss <1-16>", Act::Cfg),
    ("wlan WORD bss <1-16> primary", Act::Cfg),
    ("no wlan WORD", Act::Cfg),
];

const DEVICE: &[(&str, Act)] = &[
    ("hostname WORD", Act::Cfg),
    ("no hostname", Act::Cfg),
    ("use auto-provisioning-policy WORD", Act::Cfg),
    ("no use auto-provisioning-policy", Act::Cfg),
    ("use dhcp-server-policy WORD", Act::Cfg),
    ("no use dhcp-server-policy", Act::Cfg),
    ("interface vlan <1-4094>", Act::Cfg),
    ("no interface vlan <1-4094>", Act::Cfg),
    ("ip default-gateway A.B.C.D", Act::Cfg),
    ("no ip default-gateway", Act::Cfg),
    ("cluster name WORD", Act::Cfg),
    ("no cluster name", Act::Cfg),
    ("cluster mode active", Act::Cfg),
    ("cluster mode standby", Act::Cfg),
    ("no cluster mode", Act::Cfg),
    ("cluster master-priority <1-255>", Act::Cfg),
    ("no cluster master-priority", Act::Cfg),
    ("cluster ap-balance", Act::Cfg),
    ("no cluster ap-balance", Act::Cfg),
    ("cluster ap-balance threshold <1-50>", Act::Cfg),
    ("no cluster ap-balance threshold", Act::Cfg),
    ("cluster ap-balance hold-down <1-86400>", Act::Cfg),
    ("no cluster ap-balance hold-down", Act::Cfg),
    ("cluster force-configured-state", Act::Cfg),
    ("no cluster force-configured-state", Act::Cfg),
    ("cluster force-configured-state-delay <3-1800>", Act::Cfg),
    (
        "cluster force-configured-state-delay <3-1800> minutes",
        Act::Cfg,
    ),
    (
        "cluster force-configured-state-delay <3-1800> seconds",
        Act::Cfg,
    ),
    ("no cluster force-configured-state-delay", Act::Cfg),
    ("cluster handle-stp", Act::Cfg),
    ("no cluster handle-stp", Act::Cfg),
    ("cluster radius-counter-db-sync-time <1-1440>", Act::Cfg),
    ("no cluster radius-counter-db-sync-time", Act::Cfg),
    ("cluster member ip A.B.C.D level <1-2>", Act::Cfg),
    ("no cluster member ip A.B.C.D", Act::Cfg),
    ("cluster member vlan <1-4094>", Act::Cfg),
    ("no cluster member vlan <1-4094>", Act::Cfg),
    ("cluster hello-interval <10-10000>", Act::Cfg),
    ("no cluster hello-interval", Act::Cfg),
    ("cluster dead-interval <30-60000>", Act::Cfg),
    ("no cluster dead-interval", Act::Cfg),
];

const AP_DEVICE: &[(&str, Act)] = &[("hostname WORD", Act::Cfg), ("no hostname", Act::Cfg)];

const INTERFACE: &[(&str, Act)] = &[
    ("ip address A.B.C.D/M", Act::Cfg),
    ("no ip address", Act::Cfg),
];

const USERS: &[(&str, Act)] = &[
    ("user WORD password WORD role superuser", Act::User),
    ("user WORD password WORD role monitor", Act::User),
    ("user WORD password 0 WORD role superuser", Act::User),
    ("user WORD password 0 WORD role monitor", Act::User),
    ("user WORD password 1 WORD role superuser", Act::User),
    ("user WORD password 1 WORD role monitor", Act::User),
    (
        "user WORD password 1 WORD role superuser opaque WORD",
        Act::User,
    ),
    (
        "user WORD password 1 WORD role monitor opaque WORD",
        Act::User,
    ),
    ("user WORD ssh-key WORD WORD", Act::SshKey),
    ("user WORD ssh-key WORD WORD LINE", Act::SshKey),
    ("no user WORD", Act::Cfg),
    ("no user WORD ssh-key", Act::Cfg),
];

const WLAN: &[(&str, Act)] = &[
    ("ssid WORD", Act::Cfg),
    ("no ssid", Act::Cfg),
    ("vlan <1-4094>", Act::Cfg),
    ("no vlan", Act::Cfg),
    ("shutdown", Act::Cfg),
    ("no shutdown", Act::Cfg),
    ("encryption-type ccmp", Act::Cfg),
    ("encryption-type tkip-ccmp", Act::Cfg),
    ("encryption-type none", Act::Cfg),
    ("no encryption-type", Act::Cfg),
    ("authentication-type none", Act::Cfg),
    ("authentication-type eap", Act::Cfg),
    ("no authentication-type", Act::Cfg),
    ("wpa-wpa2 psk 0 WORD", Act::Cfg),
    ("no wpa-wpa2 psk", Act::Cfg),
];

const DHCP_POLICY: &[(&str, Act)] = &[
    ("activation-criteria none", Act::Cfg),
    ("activation-criteria cluster-master", Act::Cfg),
    ("no activation-criteria", Act::Cfg),
    ("ping-timeout <1-10>", Act::Cfg),
    ("no ping-timeout", Act::Cfg),
    ("bootp ignore", Act::Cfg),
    ("no bootp ignore", Act::Cfg),
    ("option WORD <0-254> ip", Act::Cfg),
    ("option WORD <0-254> ascii", Act::Cfg),
    ("option WORD <0-254> hex", Act::Cfg),
    ("no option WORD", Act::Cfg),
    ("dhcp-pool WORD", Act::Cfg),
    ("no dhcp-pool WORD", Act::Cfg),
];

const DHCP_POOL: &[(&str, Act)] = &[
    ("network A.B.C.D/M", Act::Cfg),
    ("no network", Act::Cfg),
    ("address range A.B.C.D A.B.C.D", Act::Cfg),
    ("no address range A.B.C.D A.B.C.D", Act::Cfg),
    ("no default-router", Act::Cfg),
    ("no dns-server", Act::Cfg),
    ("domain-name WORD", Act::Cfg),
    ("no domain-name", Act::Cfg),
    ("lease <0-365>", Act::Cfg),
    ("lease <0-365> <0-23>", Act::Cfg),
    ("lease <0-365> <0-23> <0-59>", Act::Cfg),
    ("lease <0-365> <0-23> <0-59> <0-59>", Act::Cfg),
    ("no lease", Act::Cfg),
    ("no option WORD", Act::Cfg),
    ("static-binding AA-BB-CC-DD-EE-FF ip A.B.C.D", Act::Cfg),
    ("no static-binding AA-BB-CC-DD-EE-FF", Act::Cfg),
];

/// The address-list forms of a pool (`default-router`, `dns-server`, an ip option's value):
/// one to [`crate::dhcp::MAX_ADDRESSES`] addresses, and the help of the second and later ones.
fn dhcp_pool_lists() -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for (head, first, more) in [
        (
            "default-router",
            "A.B.C.D",
            "Another router, in order of preference (at most 8)",
        ),
        (
            "dns-server",
            "A.B.C.D",
            "Another DNS server, in order of preference (at most 8)",
        ),
        (
            "option WORD",
            "<value>",
            "Another address (ip options; at most 8)",
        ),
    ] {
        let mut spec = format!("{head} {first}");
        out.push((spec.clone(), ""));
        for _ in 1..crate::dhcp::MAX_ADDRESSES {
            spec.push_str(" A.B.C.D");
            out.push((spec.clone(), more));
        }
    }
    out
}

/// Help that depends on more than the token before (which [`describe`] goes by), by path.
pub(crate) const HELP_AT: &[(Kind, &str, &str)] = &[
    (
        Kind::DhcpPool,
        "address range A.B.C.D A.B.C.D",
        "Last address of the range",
    ),
    (
        Kind::DhcpPool,
        "no address range A.B.C.D A.B.C.D",
        "Last address of the range",
    ),
    (
        Kind::DhcpPool,
        "static-binding AA-BB-CC-DD-EE-FF ip A.B.C.D",
        "The address (in the network, outside the address ranges)",
    ),
];

/// The node at `path` (names of keywords and parameter labels, space-separated).
pub(crate) fn node_at<'n>(root: &'n mut Node, path: &str) -> Option<&'n mut Node> {
    let mut node = root;
    for t in path.split_whitespace() {
        node = node.children.iter_mut().find(|c| c.name() == t)?;
    }
    Some(node)
}

fn build(kind: Kind) -> Node {
    let mut root = Node::root();
    let mut add = |specs: &[(&'static str, Act)]| {
        for (s, a) in specs {
            root.add_str(s, *a);
        }
    };
    add(SHOW);
    match kind {
        Kind::Exec => add(EXEC),
        Kind::Priv => {
            add(SHOW_PRIV);
            add(EXEC);
            add(PRIV);
            add(OPS);
        }
        _ => {
            add(SHOW_PRIV);
            add(OPS);
            add(CONFIG_COMMON);
            add(match kind {
                Kind::Global => GLOBAL,
                Kind::Device => DEVICE,
                Kind::Interface => INTERFACE,
                Kind::ApDevice => AP_DEVICE,
                Kind::UserMgmt => USERS,
                Kind::Profile => PROFILE,
                Kind::Radio => RADIO,
                Kind::Policy => &[],
                Kind::DhcpPolicy => DHCP_POLICY,
                Kind::DhcpPool => DHCP_POOL,
                _ => WLAN,
            });
            if kind == Kind::DhcpPool {
                // Built once (the trees are static), as the policy rules below.
                for (spec, help) in dhcp_pool_lists() {
                    let spec: &'static str = Box::leak(spec.into_boxed_str());
                    root.add_str(spec, Act::Cfg);
                    if let Some(n) = node_at(&mut root, spec).filter(|_| !help.is_empty()) {
                        n.help = help;
                    }
                }
            }
            for &(k, path, help) in HELP_AT {
                if let Some(n) = node_at(&mut root, path).filter(|_| k == kind) {
                    n.help = help;
                }
            }
            if kind == Kind::Policy {
                // Built once (the trees are static): the rule forms, generated.
                for spec in crate::provisioning::grammar_specs() {
                    root.add_str(Box::leak(spec.into_boxed_str()), Act::Cfg);
                }
            }
        }
    }
    if kind == Kind::Global {
        for m in Model::ALL {
            root.add(&[m.prefix(), "AA-BB-CC-DD-EE-FF"], Act::Cfg);
            root.add(&["no", m.prefix(), "AA-BB-CC-DD-EE-FF"], Act::NoDevice);
        }
        for &m in crate::AP_MODELS {
            root.add(&[m, "AA-BB-CC-DD-EE-FF"], Act::Cfg);
            root.add(&["no", m, "AA-BB-CC-DD-EE-FF"], Act::Cfg);
        }
    }
    if !matches!(kind, Kind::Exec | Kind::Priv) {
        // `do <exec command>`: the engine runs the rest in the privileged grammar.
        root.children.push(Node {
            kw: Some("do"),
            param: None,
            help: describe("", "do"),
            children: Vec::new(),
            act: None,
        });
    }
    add_modifiers(&mut root);
    // `enable` is a no-op in privileged mode but accepted (IOS does).
    root.children.sort_by(|a, b| a.name().cmp(b.name()));
    root
}

/// Acts whose output the modifiers `| include|exclude|begin <regex>` may filter.
pub(crate) fn filterable(act: Act) -> bool {
    matches!(
        act,
        Act::ShowClusterStatus
            | Act::ShowClusterConfiguration
            | Act::ShowClusterMembers
            | Act::ShowClusterHistory
            | Act::ShowClusterRevisions
            | Act::ShowClusterTraffic
            | Act::ShowWirelessAp
            | Act::ShowAdoptionStatus
            | Act::ShowAdoptionHistory
            | Act::ShowAdoptionOffline
            | Act::ShowWirelessApConfigured
            | Act::ShowRunning
            | Act::ShowStartup
            | Act::ShowVersion
            | Act::ShowLicenses
            | Act::ShowClock
            | Act::ShowContext
            | Act::ShowHistory
            | Act::WriteTerminal
    )
}

/// Gives every complete filterable command a `| begin|exclude|include LINE` branch, so `?`
/// help and completion know the modifiers.
fn add_modifiers(node: &mut Node) {
    for c in &mut node.children {
        add_modifiers(c);
    }
    let Some(act) = node.act.filter(|a| filterable(*a)) else {
        return;
    };
    if node.children.iter().any(|c| c.kw == Some("|")) {
        return;
    }
    let mut pipe = Node {
        kw: Some("|"),
        param: None,
        help: describe("", "|"),
        children: Vec::new(),
        act: None,
    };
    for m in ["begin", "exclude", "include"] {
        pipe.add(&[m, "LINE"], act);
    }
    for c in &mut pipe.children {
        c.help = describe("|", c.kw.unwrap_or(""));
        for l in &mut c.children {
            l.help = describe(c.kw.unwrap_or(""), "LINE");
        }
    }
    node.children.push(pipe);
}

pub(crate) fn grammar(kind: Kind) -> &'static Node {
    static TREES: OnceLock<Vec<(Kind, Node)>> = OnceLock::new();
    let trees = TREES.get_or_init(|| {
        [
            Kind::Exec,
            Kind::Priv,
            Kind::Global,
            Kind::Device,
            Kind::ApDevice,
            Kind::Interface,
            Kind::UserMgmt,
            Kind::Wlan,
            Kind::Profile,
            Kind::Radio,
            Kind::Policy,
            Kind::DhcpPolicy,
            Kind::DhcpPool,
        ]
        .into_iter()
        .map(|k| (k, build(k)))
        .collect()
    });
    // Every kind is built above.
    &trees
        .iter()
        .find(|(k, _)| *k == kind)
        .unwrap_or(&trees[0])
        .1
}

/// A token of an input line and its column (in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tok<'a> {
    pub text: &'a str,
    /// Column in characters.
    pub col: usize,
    /// Offset in bytes.
    pub byte: usize,
}

pub(crate) fn tokenize(line: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte, col)
    for (col, (b, ch)) in line.char_indices().enumerate() {
        if ch.is_whitespace() {
            if let Some((sb, sc)) = start.take() {
                out.push(Tok {
                    text: &line[sb..b],
                    col: sc,
                    byte: sb,
                });
            }
        } else if start.is_none() {
            start = Some((b, col));
        }
    }
    if let Some((sb, sc)) = start {
        out.push(Tok {
            text: &line[sb..],
            col: sc,
            byte: sb,
        });
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MatchErr {
    /// The token at this index fits nothing.
    Invalid(usize),
    /// The token at this index is a prefix of several keywords.
    Ambiguous(usize),
    Incomplete,
}

pub(crate) enum Step<'n> {
    Found(&'n Node),
    Ambiguous,
    None,
}

/// The child of `node` that token `t` selects.
pub(crate) fn step<'n>(node: &'n Node, t: &str) -> Step<'n> {
    let lower = t.to_ascii_lowercase();
    if let Some(c) = node.children.iter().find(|c| c.kw == Some(lower.as_str())) {
        return Step::Found(c);
    }
    let kws: Vec<&Node> = node
        .children
        .iter()
        .filter(|c| c.kw.is_some_and(|k| k.starts_with(lower.as_str())))
        .collect();
    match kws.len() {
        1 => return Step::Found(kws[0]),
        n if n > 1 => return Step::Ambiguous,
        _ => {}
    }
    match node
        .children
        .iter()
        .find(|c| c.param.is_some_and(|(k, _)| k.accepts(t)))
    {
        Some(c) => Step::Found(c),
        None => Step::None,
    }
}

/// Walks `toks` through the grammar: the final node and the canonical tokens (full keywords,
/// canonical parameter values).
pub(crate) fn walk<'n>(
    root: &'n Node,
    toks: &[Tok<'_>],
) -> Result<(&'n Node, Vec<String>), MatchErr> {
    let mut node = root;
    let mut args = Vec::with_capacity(toks.len());
    for (i, t) in toks.iter().enumerate() {
        match step(node, t.text) {
            Step::Found(c) if c.param.is_some_and(|(k, _)| k == PKind::Line) => {
                // The rest of the line, as one argument.
                args.push(
                    toks[i..]
                        .iter()
                        .map(|t| t.text)
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                return Ok((c, args));
            }
            Step::Found(c) => {
                args.push(match (c.kw, c.param) {
                    (Some(k), _) => k.to_string(),
                    (None, Some((k, _))) => k.canonical(t.text),
                    _ => t.text.to_string(),
                });
                node = c;
            }
            Step::Ambiguous => return Err(MatchErr::Ambiguous(i)),
            Step::None => return Err(MatchErr::Invalid(i)),
        }
    }
    Ok((node, args))
}

pub(crate) fn resolve(root: &Node, toks: &[Tok<'_>]) -> Result<(Act, Vec<String>), MatchErr> {
    let (node, args) = walk(root, toks)?;
    match node.act {
        Some(a) => Ok((a, args)),
        None => Err(MatchErr::Incomplete),
    }
}

/// Children of `node` matching a partial token (all of them for an empty one): keywords
/// alphabetically, then parameters.
pub(crate) fn candidates<'n>(node: &'n Node, partial: &str) -> Vec<&'n Node> {
    let lower = partial.to_ascii_lowercase();
    let mut kws: Vec<&Node> = node
        .children
        .iter()
        .filter(|c| c.kw.is_some_and(|k| k.starts_with(lower.as_str())))
        .collect();
    kws.sort_by_key(|c| c.name());
    let params = node.children.iter().filter(|c| {
        c.param
            .is_some_and(|(k, _)| partial.is_empty() || k.accepts_partial(partial))
    });
    kws.extend(params);
    kws
}
