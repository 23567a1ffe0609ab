//! The game board drawn through wgpu on WebGPU, in the worker on the page's OffscreenCanvas:
//! sites (squares) or nodes (discs) as instanced quads in their state's colour or the agent's
//! heat ramp, flow's sides as rings, links as lines. The page keeps its 2-D canvas for overlays
//! (crosses, the cursor, the agent's choice) and as the whole renderer where there is no adapter.

use std::borrow::Cow;

use serde::Deserialize;
use tessera_core::game::Site;
use tessera_core::game::topology::{LEFT, RIGHT};
use wasm_bindgen::prelude::*;
use wgpu::util::DeviceExt;

use crate::boundary::from_js_tagged;
use crate::from_js;
use crate::game::GameSession;

const SHADER: &str = r#"
struct View { size: vec2<f32>, pad: vec2<f32> };
@group(0) @binding(0) var<uniform> view: View;

fn ndc(p: vec2<f32>) -> vec4<f32> {
  return vec4<f32>(p.x / view.size.x * 2.0 - 1.0, 1.0 - p.y / view.size.y * 2.0, 0.0, 1.0);
}

struct ItemOut {
  @builtin(position) position: vec4<f32>,
  @location(0) local: vec2<f32>,
  @location(1) fill: vec4<f32>,
  @location(2) ring: vec4<f32>,
  @location(3) @interpolate(flat) shape: vec2<f32>,
};

// Two triangles around each item, large enough for its ring; `local` is the pixel offset from
// the centre, so the fragment stage cuts the square or disc and the ring out of the quad.
@vertex
fn item_vs(@builtin(vertex_index) v: u32, @location(0) centre: vec2<f32>,
           @location(1) shape: vec2<f32>, @location(2) fill: vec4<f32>,
           @location(3) ring: vec4<f32>) -> ItemOut {
  var corners = array<vec2<f32>, 6>(vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0),
    vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, 1.0));
  let extent = shape.x + select(0.0, 5.0, ring.a > 0.0);
  var out: ItemOut;
  out.local = corners[v] * extent;
  out.position = ndc(centre + out.local);
  out.fill = fill;
  out.ring = ring;
  out.shape = shape;
  return out;
}

@fragment
fn item_fs(in: ItemOut) -> @location(0) vec4<f32> {
  let half = in.shape.x;
  let r = select(max(abs(in.local.x), abs(in.local.y)), length(in.local), in.shape.y > 0.5);
  if (r <= half) { return in.fill; }
  if (in.ring.a > 0.0 && r >= half + 1.75 && r <= half + 4.25) { return in.ring; }
  discard;
  return vec4<f32>(0.0);
}

struct LineOut {
  @builtin(position) position: vec4<f32>,
  @location(0) colour: vec4<f32>,
};

@vertex
fn line_vs(@location(0) at: vec2<f32>, @location(1) colour: vec4<f32>) -> LineOut {
  var out: LineOut;
  out.position = ndc(at);
  out.colour = colour;
  return out;
}

@fragment
fn line_fs(in: LineOut) -> @location(0) vec4<f32> {
  return in.colour;
}
"#;

/// An item: centre (px), half size (px) and shape (0 square, 1 disc), fill and ring colours.
struct Item {
    centre: [f32; 2],
    shape: [f32; 2],
    fill: [f32; 4],
    ring: [f32; 4],
}

/// A line end: position (px) and colour.
struct LineEnd {
    at: [f32; 2],
    colour: [f32; 4],
}

/// The page's palette (www/game.js): site states, flow's sides, links.
const STATE_COLOURS: [u32; 4] = [0xdfe3ea, 0x2aa35a, 0xe3a33b, 0xc8323a];
const SOURCE: u32 = 0x2f6fdf;
const SINK: u32 = 0xb0369a;
const LINK: u32 = 0x9aa3b2;
const CUT_LINK: u32 = 0xdfe3ea;
/// The heat ramp's ends: pale yellow (few moves left) to deep blue, as the page's.
const HEAT_LOW: [f32; 3] = [253.0, 231.0, 37.0];
const HEAT_HIGH: [f32; 3] = [48.0, 18.0, 120.0];

fn rgb(hex: u32) -> [f32; 4] {
    let channel = |shift: u32| ((hex >> shift) & 0xff) as f32 / 255.0;
    [channel(16), channel(8), channel(0), 1.0]
}

fn heat(t: f32) -> [f32; 4] {
    let c = |k: usize| (HEAT_LOW[k] + (HEAT_HIGH[k] - HEAT_LOW[k]) * t).round() / 255.0;
    [c(0), c(1), c(2), 1.0]
}

/// Where the items go: a lattice fills the canvas; a network's nodes are where the page drew
/// them (its layout, in canvas pixels).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum Scene {
    Lattice(LatticeScene),
    Graph(GraphScene),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatticeScene {
    n: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphScene {
    points: Vec<[f32; 2]>,
    radius: f32,
}

/// What to draw besides the game's states: the agent's heat map (null where not Alive), if shown.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Frame {
    #[serde(default)]
    heat: Option<Vec<Option<f32>>>,
}

#[wasm_bindgen]
pub struct GameRenderer {
    /// Kept for the renderer's life: once the JS adapter is collected, Chromium refuses buffer
    /// mappings ("a valid external Instance reference no longer exists").
    _instance: wgpu::Instance,
    _adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    items: wgpu::RenderPipeline,
    lines: wgpu::RenderPipeline,
    /// The view's uniform (the canvas size), bound through `bind`.
    _view: wgpu::Buffer,
    bind: wgpu::BindGroup,
    scene: Option<Scene>,
}

#[wasm_bindgen]
impl GameRenderer {
    /// A renderer on `canvas` (an OffscreenCanvas the page transferred); rejects where the
    /// browser offers no WebGPU adapter, so the page keeps its 2-D canvas.
    pub async fn create(canvas: wgpu::web_sys::OffscreenCanvas) -> Result<GameRenderer, JsError> {
        let (width, height) = (canvas.width().max(1), canvas.height().max(1));
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::BROWSER_WEBGPU,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let surface = instance
            .create_surface(wgpu::SurfaceTarget::OffscreenCanvas(canvas))
            .map_err(|e| JsError::new(&format!("WebGPU canvas: {e}")))?;
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                compatible_surface: Some(&surface),
                ..Default::default()
            })
            .await
            .map_err(|e| JsError::new(&format!("no WebGPU adapter to draw with: {e}")))?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("tessera board"),
                required_limits: wgpu::Limits::downlevel_webgl2_defaults()
                    .using_resolution(adapter.limits()),
                ..Default::default()
            })
            .await
            .map_err(|e| JsError::new(&format!("WebGPU device: {e}")))?;
        let mut config = surface
            .get_default_config(&adapter, width, height)
            .ok_or_else(|| JsError::new("the WebGPU canvas supports no format to draw in"))?;
        config.alpha_mode = wgpu::CompositeAlphaMode::Opaque;
        surface.configure(&device, &config);

        // A shader or pipeline mistake rejects here, by name, rather than as an uncaptured error.
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("board"),
            source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(SHADER)),
        });
        let view = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("view"),
            contents: &floats([width as f32, height as f32, 0.0, 0.0]),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("view"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("view"),
            layout: &layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: view.as_entire_binding(),
            }],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("board"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = |entry: (&str, &str),
                        buffer: wgpu::VertexBufferLayout<'_>,
                        topology: wgpu::PrimitiveTopology| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(entry.0),
                layout: Some(&pipeline_layout),
                vertex: wgpu::VertexState {
                    module: &module,
                    entry_point: Some(entry.0),
                    compilation_options: Default::default(),
                    buffers: &[Some(buffer)],
                },
                primitive: wgpu::PrimitiveState {
                    topology,
                    ..Default::default()
                },
                depth_stencil: None,
                multisample: Default::default(),
                fragment: Some(wgpu::FragmentState {
                    module: &module,
                    entry_point: Some(entry.1),
                    compilation_options: Default::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format: config.format,
                        blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let items = pipeline(
            ("item_vs", "item_fs"),
            wgpu::VertexBufferLayout {
                array_stride: std::mem::size_of::<Item>() as u64,
                step_mode: wgpu::VertexStepMode::Instance,
                attributes: &wgpu::vertex_attr_array![
                    0 => Float32x2, 1 => Float32x2, 2 => Float32x4, 3 => Float32x4
                ],
            },
            wgpu::PrimitiveTopology::TriangleList,
        );
        let lines = pipeline(
            ("line_vs", "line_fs"),
            wgpu::VertexBufferLayout {
                array_stride: std::mem::size_of::<LineEnd>() as u64,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x4],
            },
            wgpu::PrimitiveTopology::LineList,
        );
        if let Some(error) = scope.pop().await {
            return Err(JsError::new(&format!(
                "the board's WebGPU pipelines: {error}"
            )));
        }
        Ok(GameRenderer {
            _instance: instance,
            _adapter: adapter,
            device,
            queue,
            surface,
            config,
            items,
            lines,
            _view: view,
            bind,
            scene: None,
        })
    }

    /// What the board is: `{ kind: "lattice", n }` or `{ kind: "graph", points: [[x, y], …],
    /// radius }` (the page's layout in canvas pixels).
    #[wasm_bindgen(js_name = setScene)]
    pub fn set_scene(&mut self, scene: JsValue) -> Result<(), JsError> {
        let scene: Scene = from_js_tagged("scene", scene)?;
        match &scene {
            Scene::Lattice(LatticeScene { n: 0 }) => {
                return Err(JsError::new("scene.n: at least 1"));
            }
            Scene::Graph(GraphScene { points, radius }) => {
                if !(radius.is_finite() && *radius > 0.0) {
                    return Err(JsError::new(&format!(
                        "scene.radius {radius}: must be positive"
                    )));
                }
                if let Some(i) = points
                    .iter()
                    .position(|p| !p[0].is_finite() || !p[1].is_finite())
                {
                    return Err(JsError::new(&format!(
                        "scene.points[{i}]: not a finite position"
                    )));
                }
            }
            Scene::Lattice(_) => {}
        }
        self.scene = Some(scene);
        Ok(())
    }

    /// Draws `session`'s board in the scene set last; `frame` is `{ heat }` or nothing. A Promise
    /// of how many items (sites or nodes) were drawn, rejected naming a WebGPU error.
    pub fn draw(&self, session: &GameSession, frame: JsValue) -> Result<js_sys::Promise, JsError> {
        let (items, ends) = self.layout(session, frame)?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let texture = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            other => {
                return Err(JsError::new(&format!(
                    "the WebGPU canvas gave no frame to draw in ({other:?})"
                )));
            }
        };
        let target = texture.texture.create_view(&Default::default());
        let mut encoder = self.encoder();
        self.encode(&mut encoder, &target, &items, &ends);
        self.queue.submit([encoder.finish()]);
        self.queue.present(texture);
        let errors = scope.pop();
        let count = items.len();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            match errors.await {
                Some(error) => Err(JsError::new(&format!("the board's frame: {error}")).into()),
                None => Ok(JsValue::from(count)),
            }
        }))
    }

    /// The same frame drawn into a texture and read back: a Promise of its pixels, RGBA, row by
    /// row from the top (`width × height × 4` bytes). A page cannot read a WebGPU canvas back;
    /// this is how a test checks what the renderer draws.
    pub fn snapshot(
        &self,
        session: &GameSession,
        frame: JsValue,
    ) -> Result<js_sys::Promise, JsError> {
        let (items, ends) = self.layout(session, frame)?;
        let (width, height) = (self.config.width, self.config.height);
        // A mistake in these commands is reported by the promise, not as an uncaptured error.
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let texture = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("snapshot"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: self.config.format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let row = (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("snapshot"),
            size: u64::from(row) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = self.encoder();
        self.encode(
            &mut encoder,
            &texture.create_view(&Default::default()),
            &items,
            &ends,
        );
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(row),
                    rows_per_image: Some(height),
                },
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
        self.queue.submit([encoder.finish()]);
        let bgra = matches!(
            self.config.format,
            wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
        );
        let errors = scope.pop();
        let mapped = js_sys::Promise::new(&mut |resolve, reject| {
            let buffer = readback.clone();
            readback
                .slice(..)
                .map_async(wgpu::MapMode::Read, move |mapped| {
                    if let Err(e) = mapped {
                        let _ = reject.call1(&JsValue::NULL, &JsError::new(&e.to_string()).into());
                        return;
                    }
                    let bytes = match buffer.slice(..).get_mapped_range() {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            let _ =
                                reject.call1(&JsValue::NULL, &JsError::new(&e.to_string()).into());
                            return;
                        }
                    };
                    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
                    for y in 0..height as usize {
                        let start = y * row as usize;
                        pixels.extend_from_slice(&bytes[start..start + width as usize * 4]);
                    }
                    drop(bytes);
                    buffer.unmap();
                    if bgra {
                        for pixel in pixels.chunks_exact_mut(4) {
                            pixel.swap(0, 2);
                        }
                    }
                    let _ = resolve.call1(&JsValue::NULL, &js_sys::Uint8Array::from(&pixels[..]));
                });
        });
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            if let Some(error) = errors.await {
                return Err(JsError::new(&format!("the board's snapshot: {error}")).into());
            }
            wasm_bindgen_futures::JsFuture::from(mapped).await
        }))
    }
}

impl GameRenderer {
    /// The items and line ends of `session`'s board in the current scene.
    fn layout(
        &self,
        session: &GameSession,
        frame: JsValue,
    ) -> Result<(Vec<Item>, Vec<LineEnd>), JsError> {
        let frame: Frame = if frame.is_undefined() || frame.is_null() {
            Frame::default()
        } else {
            from_js("frame", frame)?
        };
        let game = session.game();
        let sites = game.sites();
        let scene = self
            .scene
            .as_ref()
            .ok_or_else(|| JsError::new("no scene: call setScene first"))?;
        if let Some(heat) = &frame.heat
            && heat.len() != sites.len()
        {
            return Err(JsError::new(&format!(
                "frame.heat: {} values for {} sites",
                heat.len(),
                sites.len()
            )));
        }
        // The ramp spans the Alive sites' values, as on the page's 2-D canvas.
        let shown = |i: usize| match &frame.heat {
            Some(heat) if sites[i] == Site::Alive => heat[i].filter(|v| v.is_finite()),
            _ => None,
        };
        let (low, high) = (0..sites.len())
            .filter_map(shown)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let fill = |i: usize| -> [f32; 4] {
            match shown(i) {
                Some(v) => heat(if high > low {
                    (v - low) / (high - low)
                } else {
                    0.0
                }),
                None => rgb(STATE_COLOURS[sites[i] as usize]),
            }
        };
        let topology = game.topology();
        let flow = matches!(
            game.definition(),
            tessera_core::game::Definition::Flow { .. }
        );
        let (items, ends): (Vec<Item>, Vec<LineEnd>) = match scene {
            Scene::Lattice(LatticeScene { n }) => {
                if n.checked_mul(*n) != Some(sites.len()) {
                    return Err(JsError::new(&format!(
                        "the scene is a {n}×{n} lattice; the game has {} sites",
                        sites.len()
                    )));
                }
                let cell = self.config.width as f32 / *n as f32;
                let half = if cell >= 4.0 {
                    cell / 2.0 - 1.0
                } else {
                    cell / 2.0
                };
                let items = (0..sites.len())
                    .map(|i| Item {
                        centre: [((i % n) as f32 + 0.5) * cell, ((i / n) as f32 + 0.5) * cell],
                        shape: [half, 0.0],
                        fill: fill(i),
                        ring: [0.0; 4],
                    })
                    .collect();
                (items, Vec::new())
            }
            Scene::Graph(GraphScene { points, radius }) => {
                if points.len() != sites.len() {
                    return Err(JsError::new(&format!(
                        "scene.points: {} positions for a game of {} nodes",
                        points.len(),
                        sites.len()
                    )));
                }
                let mut ends = Vec::new();
                for v in 0..sites.len() {
                    for &u in topology.neighbours(v) {
                        let u = u as usize;
                        if u > v {
                            let cut = sites[u] == Site::Attacked || sites[v] == Site::Attacked;
                            let colour = rgb(if cut { CUT_LINK } else { LINK });
                            ends.push(LineEnd {
                                at: points[v],
                                colour,
                            });
                            ends.push(LineEnd {
                                at: points[u],
                                colour,
                            });
                        }
                    }
                }
                let items = (0..sites.len())
                    .map(|i| {
                        let side = topology.sides(i);
                        let ring = match (flow, side & LEFT != 0, side & RIGHT != 0) {
                            (true, true, _) => rgb(SOURCE),
                            (true, false, true) => rgb(SINK),
                            _ => [0.0; 4],
                        };
                        Item {
                            centre: points[i],
                            shape: [*radius, 1.0],
                            fill: fill(i),
                            ring,
                        }
                    })
                    .collect();
                (items, ends)
            }
        };
        Ok((items, ends))
    }

    fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("board"),
            })
    }

    /// One render pass onto `target`: white, the links, then the items.
    fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        target: &wgpu::TextureView,
        items: &[Item],
        ends: &[LineEnd],
    ) {
        // Written through the queue: a buffer mapped at creation fails in Chromium's workers once
        // a frame has gone to an OffscreenCanvas ("too large for the implementation").
        let buffer = |label: &str, bytes: &[u8]| {
            let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.len() as u64,
                usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.queue.write_buffer(&buffer, 0, bytes);
            buffer
        };
        let item_bytes = floats(items.iter().flat_map(|item| {
            item.centre
                .into_iter()
                .chain(item.shape)
                .chain(item.fill)
                .chain(item.ring)
        }));
        let line_bytes = floats(
            ends.iter()
                .flat_map(|end| end.at.into_iter().chain(end.colour)),
        );
        let item_buffer = (!items.is_empty()).then(|| buffer("items", &item_bytes));
        let line_buffer = (!ends.is_empty()).then(|| buffer("lines", &line_bytes));
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("board"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: target,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::WHITE),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            pass.set_bind_group(0, &self.bind, &[]);
            if let Some(lines) = &line_buffer {
                pass.set_pipeline(&self.lines);
                pass.set_vertex_buffer(0, lines.slice(..));
                pass.draw(0..ends.len() as u32, 0..1);
            }
            if let Some(instances) = &item_buffer {
                pass.set_pipeline(&self.items);
                pass.set_vertex_buffer(0, instances.slice(..));
                pass.draw(0..6, 0..items.len() as u32);
            }
        }
    }
}

/// f32 values as the little-endian bytes a buffer holds.
fn floats(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}
