//! Minidumps for native crashes, written with rust-minidump's synthesizer (`minidump-synth`):
//! a Windows x86-64 process with its module list (each with a PDB 7.0 CodeView record, so
//! Sentry and symbolicator can name its debug file), a thread list whose stacks hold return
//! addresses into those modules, the crashing thread's context, system info and the exception
//! stream with the crash reason. The same [`Crash`] gives the event's `debug_meta` images, so
//! the two always agree; a test processes every dump with `minidump-processor`.

use minidump_common::format as md;
use minidump_synth::{
    DumpString, Exception, Memory, Module, SynthMinidump, SystemInfo, Thread, amd64_context,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use test_assembler::{Endian, Section};

/// One loaded module.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashModule {
    /// Its path (the code file).
    pub code_file: String,
    /// Where it is loaded.
    pub base: u64,
    /// Its size in memory.
    pub size: u32,
    /// The PE header's link time stamp (part of the code id).
    pub timestamp: u32,
    /// The PDB's GUID.
    pub guid: [u8; 16],
    /// The PDB's age.
    pub age: u32,
    /// The PDB's path (the debug file).
    pub debug_file: String,
}

impl CrashModule {
    /// The debug id as Sentry writes it: the GUID (its first three fields stored
    /// little-endian, as Windows lays out a GUID), then the age in hex.
    pub fn debug_id(&self) -> String {
        let g = &self.guid;
        let g = uuid::Uuid::from_fields(
            u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            u16::from_le_bytes([g[4], g[5]]),
            u16::from_le_bytes([g[6], g[7]]),
            &[g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]],
        );
        format!("{}-{:x}", g.hyphenated(), self.age)
    }

    /// The code id: time stamp and image size, as Breakpad and Sentry write it for PE files.
    pub fn code_id(&self) -> String {
        format!("{:08X}{:x}", self.timestamp, self.size)
    }
}

/// How the process died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashReason {
    /// The Windows exception code.
    pub code: u32,
    /// For access violations: 0 read, 1 write, 8 execute.
    pub access: Option<u64>,
    /// The name Sentry and rust-minidump show.
    pub name: &'static str,
}

/// The crash reasons native traffic is spread over.
pub const REASONS: &[CrashReason] = &[
    CrashReason {
        code: 0xC000_0005,
        access: Some(0),
        name: "EXCEPTION_ACCESS_VIOLATION_READ",
    },
    CrashReason {
        code: 0xC000_0005,
        access: Some(1),
        name: "EXCEPTION_ACCESS_VIOLATION_WRITE",
    },
    CrashReason {
        code: 0xC000_00FD,
        access: None,
        name: "EXCEPTION_STACK_OVERFLOW",
    },
    CrashReason {
        code: 0xC000_0094,
        access: None,
        name: "EXCEPTION_INT_DIVIDE_BY_ZERO",
    },
    CrashReason {
        code: 0xC000_001D,
        access: None,
        name: "EXCEPTION_ILLEGAL_INSTRUCTION",
    },
    CrashReason {
        code: 0xC000_0409,
        access: None,
        name: "STATUS_STACK_BUFFER_OVERRUN",
    },
];

/// Everything one minidump holds, decided before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    /// Loaded modules; the first is the executable.
    pub modules: Vec<CrashModule>,
    /// Thread ids; the crashing one is `threads[crashing]`.
    pub threads: Vec<u32>,
    /// Index of the crashing thread.
    pub crashing: usize,
    /// The reason.
    pub reason: CrashReason,
    /// The faulting address (for access violations) or instruction address.
    pub address: u64,
    /// The instruction pointer of the crashing thread (inside the executable).
    pub rip: u64,
    /// Stack bytes per thread.
    pub stack_bytes: usize,
    /// Frames the crashing thread's stack holds return addresses for.
    pub depth: usize,
}

const MODULE_NAMES: &[(&str, u32)] = &[
    ("C:\\Program Files\\Acme\\AcmeStudio.exe", 0x0042_0000),
    ("C:\\Program Files\\Acme\\acme_core.dll", 0x0031_0000),
    ("C:\\Program Files\\Acme\\acme_render.dll", 0x0052_0000),
    ("C:\\Windows\\System32\\ntdll.dll", 0x001f_8000),
    ("C:\\Windows\\System32\\kernel32.dll", 0x000c_1000),
    ("C:\\Windows\\System32\\KERNELBASE.dll", 0x0039_5000),
    ("C:\\Windows\\System32\\ucrtbase.dll", 0x0011_a000),
    ("C:\\Windows\\System32\\d3d11.dll", 0x0026_4000),
    ("C:\\Windows\\System32\\user32.dll", 0x001a_2000),
    ("C:\\Windows\\System32\\ws2_32.dll", 0x0006_b000),
];

/// The stack's base address of thread `i`.
fn stack_base(i: usize) -> u64 {
    0x0000_00a0_0000_0000 + (i as u64) * 0x0010_0000
}

impl Crash {
    /// A crash of `total_bytes` (about), with `depth` frames on the crashing stack.
    pub fn draw(rng: &mut ChaCha8Rng, total_bytes: usize, depth: usize) -> Crash {
        let n_modules = rng.random_range(5..=MODULE_NAMES.len());
        let mut base = 0x0000_7ff6_1000_0000u64;
        let modules = MODULE_NAMES[..n_modules]
            .iter()
            .map(|(path, size)| {
                let m = CrashModule {
                    code_file: (*path).into(),
                    base,
                    size: *size,
                    timestamp: rng.random_range(0x5000_0000..0x6800_0000),
                    guid: rng.random(),
                    age: rng.random_range(1..4),
                    debug_file: path
                        .rsplit('\\')
                        .next()
                        .unwrap_or(path)
                        .replace(".exe", ".pdb")
                        .replace(".dll", ".pdb"),
                };
                base += u64::from(*size).next_multiple_of(0x10000) + 0x10000;
                m
            })
            .collect::<Vec<_>>();
        // Small dumps come from processes with few threads.
        let most = (total_bytes / 6000).clamp(2, 12);
        let threads: Vec<u32> = (0..rng.random_range(2..=most as u32))
            .map(|i| (rng.random_range(0x100..0x8000) & !0xff) | (i << 2))
            .collect();
        let crashing = rng.random_range(0..threads.len());
        let reason = REASONS[rng.random_range(0..REASONS.len())];
        let exe = &modules[0];
        let rip = exe.base + 0x1000 + rng.random_range(0..u64::from(exe.size) - 0x2000);
        let address = match reason.access {
            Some(_) => rng.random_range(0..0x1000),
            None => rip,
        };
        // The dump's fixed part: header and streams, a 1,232-byte CONTEXT_AMD64 and list
        // entries per thread, and per module its entry, name and CodeView record. The stacks
        // take the rest.
        let names: usize = modules
            .iter()
            .map(|m| m.code_file.len() * 2 + m.debug_file.len())
            .sum();
        let fixed = 400 + threads.len() * (1232 + 64) + modules.len() * 140 + names;
        let stack_bytes =
            (total_bytes.saturating_sub(fixed) / threads.len()).clamp(0x100, 8 << 20) & !0xf;
        Crash {
            modules,
            threads,
            crashing,
            reason,
            address,
            rip,
            stack_bytes,
            depth: depth.max(1),
        }
    }

    /// The minidump bytes.
    pub fn write(&self, rng: &mut ChaCha8Rng) -> Vec<u8> {
        let le = Endian::Little;
        let arch = md::ProcessorArchitecture::PROCESSOR_ARCHITECTURE_AMD64 as u16;
        let mut system = SystemInfo::new(le)
            .set_processor_architecture(arch)
            .set_platform_id(md::PlatformId::VER_PLATFORM_WIN32_NT as u32);
        system.major_version = 10;
        system.build_number = 19045;
        system.number_of_processors = 8;
        system.product_type = 1;
        let mut dump = SynthMinidump::with_endian(le).add_system_info(system);
        for m in &self.modules {
            let name = DumpString::new(&m.code_file, le);
            let mut cv = Section::with_endian(le)
                .D32(md::CvSignature::Pdb70 as u32)
                .append_bytes(&m.guid)
                .D32(m.age)
                .append_bytes(m.debug_file.as_bytes());
            cv = cv.D8(0);
            let module =
                Module::new(le, m.base, m.size, &name, m.timestamp, 0, None).cv_record(&cv);
            dump = dump.add_module(module).add(name).add(cv);
        }
        for (i, id) in self.threads.iter().enumerate() {
            let base = stack_base(i);
            let depth = if i == self.crashing {
                self.depth
            } else {
                rng.random_range(2..12)
            };
            let stack = Memory::with_section(self.stack(rng, depth), base);
            let rip = if i == self.crashing {
                self.rip
            } else {
                // Idle threads wait in ntdll (or the first system module).
                let m = &self.modules[self.modules.len().min(4) - 1];
                m.base + 0x1000 + rng.random_range(0..u64::from(m.size) - 0x2000)
            };
            let context = amd64_context(le, rip, base);
            let thread = Thread::new(le, *id, &stack, &context);
            dump = dump.add_thread(thread).add(context).add_memory(stack);
        }
        let mut exception = Exception::new(le);
        exception.thread_id = self.threads[self.crashing];
        exception.exception_record.exception_code = self.reason.code;
        exception.exception_record.exception_address = self.rip;
        if let Some(access) = self.reason.access {
            exception.exception_record.number_parameters = 2;
            exception.exception_record.exception_information[0] = access;
            exception.exception_record.exception_information[1] = self.address;
        }
        dump = dump.add_exception(exception);
        // The synthesizer lays out only what it was given; it cannot fail on this input.
        dump.finish().unwrap_or_default()
    }

    /// A stack: return addresses into the modules (the frames a stack scan finds) between
    /// saved registers and locals.
    fn stack(&self, rng: &mut ChaCha8Rng, depth: usize) -> Section {
        let words = self.stack_bytes / 8;
        let mut bytes = Vec::with_capacity(words * 8);
        let every = (words / depth.max(1)).clamp(4, 64);
        for w in 0..words {
            let value = if w % every == every - 1 && w / every < depth {
                let m = &self.modules[rng.random_range(0..self.modules.len())];
                m.base + 0x1000 + rng.random_range(0..u64::from(m.size) - 0x2000)
            } else {
                match rng.random_range(0..4) {
                    0 => 0,
                    1 => rng.random_range(0..0x1_0000),
                    2 => stack_base(0) + rng.random_range(0..0x10_0000),
                    _ => rng.random(),
                }
            };
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        Section::with_endian(Endian::Little).append_bytes(&bytes)
    }
}
