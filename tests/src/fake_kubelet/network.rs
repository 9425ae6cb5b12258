//! A pod network the fake kubelet gives its pods addresses in: a network namespace this process
//! creates, joined to the host by a veth pair, with one /24 of the 10.0.0.0/8 range. Every pod gets
//! an address of it on the namespace's end, and its stub servers listen there, so a Gateway on the
//! host reaches them as it would reach pods: through the Service's EndpointSlices. Loopback addresses
//! would not do: EndpointSlice validation refuses them.
//!
//! Traffic stays on this machine: the addresses exist only on the veth pair. Creating the namespace
//! needs root (`ip netns`); the namespace is deleted on drop, and by the control plane's watchdog if
//! the process dies first (see [`crate::process`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

/// One pod network. Names and the subnet derive from the process id, so concurrent test processes
/// on one machine get distinct ones.
#[derive(Debug)]
pub struct PodNetwork {
    namespace: String,
    pod_side: String,
    subnet: [u8; 3],
    /// The last host number handed out (1 is the host's end, 2 the namespace's).
    last: Mutex<u8>,
}

impl PodNetwork {
    /// Creates the namespace and the veth pair, and appends the command that deletes them to
    /// `on_exit` (a shell script the watchdog runs once the process is gone).
    pub fn create(on_exit: &Path) -> Result<Self> {
        let pid = std::process::id();
        let namespace = format!("aim-testenv-{pid}");
        let host_side = format!("aimh{pid}");
        let pod_side = format!("aimp{pid}");
        let subnet = [10, 128 + ((pid >> 8) % 64) as u8, (pid & 0xff) as u8];
        let net = format!("{}.{}.{}", subnet[0], subnet[1], subnet[2]);
        let cleanup = format!("ip netns del {namespace} 2>/dev/null\n");
        append(on_exit, &cleanup)?;
        let network = Self {
            namespace,
            pod_side,
            subnet,
            last: Mutex::new(2),
        };
        let ns = network.namespace.as_str();
        // One left by an earlier process with this pid that died before its watchdog ran.
        let _ = ip(&["netns", "del", ns]);
        ip(&["netns", "add", ns])?;
        ip(&[
            "link",
            "add",
            &host_side,
            "type",
            "veth",
            "peer",
            "name",
            &network.pod_side,
            "netns",
            ns,
        ])?;
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", &host_side])?;
        ip(&["link", "set", &host_side, "up"])?;
        let in_ns = |args: &[&str]| {
            let mut all = vec!["-n", ns];
            all.extend_from_slice(args);
            ip(&all)
        };
        in_ns(&[
            "addr",
            "add",
            &format!("{net}.2/24"),
            "dev",
            &network.pod_side,
        ])?;
        in_ns(&["link", "set", &network.pod_side, "up"])?;
        in_ns(&["link", "set", "lo", "up"])?;
        Ok(network)
    }

    /// A fresh pod address, added to the namespace's end of the pair.
    pub fn allocate(&self) -> Result<Ipv4Addr> {
        let host = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if *last == 254 {
                bail!("the pod network {} has no address left", self.namespace);
            }
            *last += 1;
            *last
        };
        let [a, b, c] = self.subnet;
        let address = Ipv4Addr::new(a, b, c, host);
        ip(&[
            "-n",
            &self.namespace,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            &self.pod_side,
        ])?;
        Ok(address)
    }

    /// A listener bound to `address` inside the namespace. A socket stays in the namespace it was
    /// made in, so a short-lived thread enters the namespace, binds, and ends (only that thread
    /// ever changes namespace).
    pub fn bind(&self, address: SocketAddr) -> Result<std::net::TcpListener> {
        let path = format!("/run/netns/{}", self.namespace);
        std::thread::spawn(move || -> Result<std::net::TcpListener> {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .with_context(|| format!("entering the network namespace {path}"))?;
            let listener = std::net::TcpListener::bind(address)
                .with_context(|| format!("binding {address} in {path}"))?;
            listener.set_nonblocking(true)?;
            Ok(listener)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the thread binding {address} panicked"))?
    }
}

impl Drop for PodNetwork {
    fn drop(&mut self) {
        // Deleting the namespace deletes the pair with it.
        let _ = ip(&["netns", "del", &self.namespace]);
    }
}

fn ip(args: &[&str]) -> Result<()> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .context("running `ip` (iproute2)")?;
    if !output.status.success() {
        bail!(
            "`ip {}` failed (the pod network needs root): {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
