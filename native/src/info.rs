//! `tessera info`: which backends this binary has, and which devices each finds here.

use anyhow::Result;

use crate::backend::Backend;

pub fn run() -> Result<()> {
    println!("tessera {}", env!("CARGO_PKG_VERSION"));
    println!(
        "compiled backends: {}",
        Backend::compiled()
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!(
        "cpu   flex (pure Rust, {} threads available)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    #[cfg(feature = "wgpu")]
    wgpu_adapters();
    #[cfg(feature = "cuda")]
    match Backend::Cuda.device() {
        Ok(_) => println!("cuda  device 0 ready"),
        Err(e) => println!("cuda  unavailable: {e:#}"),
    }
    Ok(())
}

#[cfg(feature = "wgpu")]
fn wgpu_adapters() {
    use burn::tensor::wgpu::wgpu;
    let instance = wgpu::Instance::default();
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    if adapters.is_empty() {
        println!("wgpu  no adapters (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers)");
    }
    for adapter in adapters {
        let info = adapter.get_info();
        println!(
            "wgpu  {:?}: {} ({:?}{})",
            info.backend,
            info.name,
            info.device_type,
            if info.driver.is_empty() {
                String::new()
            } else {
                format!(", driver {}", info.driver)
            }
        );
    }
}
